"""Factories for the Kafka and Elasticsearch clients every stage uses, with safe defaults.

Stages never construct clients themselves, so delivery guarantees are decided here, once:
producers wait for all in-sync replicas and never duplicate on retry; consumers commit only
when the stage says its output is durable, read only committed records (read_committed): the
output of a transaction that was aborted, or is still open, is never read, and fetch at most
FETCH_MAX_BYTES at a time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from newsflow.errors import ServiceUnreachable
from newsflow.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

FETCH_MAX_BYTES = 2 * 1024 * 1024  # of records a consumer's fetch brings, from all its partitions


@contextmanager
def _reaching_kafka(settings: Settings) -> Iterator[None]:
    try:
        yield
    except KafkaTimeoutError:  # raised by constructors: "Unable to bootstrap from ..."
        raise ServiceUnreachable(
            f"Kafka at {settings.kafka_bootstrap_servers} is not reachable: start it with "
            "`newsflow services up` or set NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"
        ) from None


def kafka_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that retries without duplicating and fails loudly when the broker refuses."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "acks": "all",
        "enable_idempotence": True,  # retries cannot write a record twice
        "compression_type": None if settings.kafka_compression == "none" else settings.kafka_compression,
        "max_request_size": settings.kafka_max_message_bytes,
        # Stages flush at each checkpoint anyway: waiting 20 ms for more records, in batches of up
        # to 512 KiB, turns one produce request per page into one per few dozen.
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        "allow_auto_create_topics": False,  # topics exist with their settings, or sending fails
    }
    with _reaching_kafka(settings):
        return KafkaProducer(**{**config, **overrides})


def kafka_consumer(settings: Settings, group_id: str | None, *topics: str, **overrides: Any) -> KafkaConsumer:
    """A consumer-group member that commits only when told to, starting at the earliest record,
    reading what transactions committed (and what was sent outside any) only.

    `group_id=None` makes a consumer outside any group: it is assigned its partitions and commits nothing."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "group_id": group_id,
        "enable_auto_commit": False,  # offsets are committed after the output is durable
        "auto_offset_reset": "earliest",
        # Transform's output is transactional: an aborted batch (a worker killed before its commit)
        # is never read, and its offsets end before an open transaction's first record.
        "isolation_level": "read_committed",
        # Fetches of 2 MiB (1 MiB a partition) keep seconds of a worker's work buffered; fetches of a
        # record's limit (16 MiB a partition, 50 MiB in all) held tens of MiB for nothing: a transform
        # process's peak 474 → 414 MiB (bench/transform.py). A larger record still comes: the broker
        # sends the first record batch of a fetch whole, whatever the limits.
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "max_partition_fetch_bytes": FETCH_MAX_BYTES // 2,
        # A member that died is replaced after 10 s instead of 45: its partitions wait that long.
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
    }
    with _reaching_kafka(settings):
        return KafkaConsumer(*topics, **{**config, **overrides})


def kafka_admin(settings: Settings, **overrides: Any) -> KafkaAdminClient:
    with _reaching_kafka(settings):
        return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","), **overrides)


def elasticsearch_client(settings: Settings, **overrides: Any) -> "Elasticsearch":
    """A client for the configured node or cluster (it fails over between the URLs given); basic auth when a username is set."""
    # Imported here: the transform processes, which never ask Elasticsearch, are 7 MiB smaller without it.
    from elasticsearch import Elasticsearch

    config: dict[str, Any] = {
        "request_timeout": settings.elasticsearch_request_timeout,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    if settings.elasticsearch_username:
        password = settings.elasticsearch_password.get_secret_value() if settings.elasticsearch_password else ""
        config["basic_auth"] = (settings.elasticsearch_username, password)
    return Elasticsearch(settings.elasticsearch_urls, **{**config, **overrides})
