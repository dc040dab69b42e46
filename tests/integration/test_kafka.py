"""A real Kafka 4 broker: topics with their settings, a keyed round trip with headers, big pages."""

import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from newsflow.clients import kafka_admin, kafka_consumer, kafka_producer
from newsflow.errors import ServiceUnreachable
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from tests.helpers import free_port, run_newsflow

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(local_services: Settings) -> Iterator[Settings]:
    """Settings whose three pipeline topics are fresh, uniquely named ones."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    ensure_topics(settings)
    yield settings
    admin = kafka_admin(settings)
    admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
    admin.close()


def test_topics_are_created_once_with_their_settings(topics: Settings):
    assert ensure_topics(topics) == []  # a second call creates nothing
    admin = kafka_admin(topics)
    try:
        described = {topic["name"]: topic for topic in admin.describe_topics([topics.topic_raw])}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics.topic_raw)])
    finally:
        admin.close()
    assert len(described[topics.topic_raw]["partitions"]) == topics.topic_partitions
    raw_configs = configs["topic"][topics.topic_raw]
    assert raw_configs["max.message.bytes"]["value"] == str(topics.kafka_max_message_bytes)
    assert raw_configs["retention.ms"]["value"] == str(topics.topic_retention_ms)


def test_a_keyed_record_with_headers_round_trips_and_its_offset_is_committed(topics: Settings):
    producer = kafka_producer(topics)
    sent = [
        producer.send(
            topics.topic_raw,
            key=f"article-{n % 3}".encode(),
            value=f"page {n}".encode(),
            headers=[("schema_version", b"1"), ("source_id", b"orda-kz")],
        )
        for n in range(9)
    ]
    metadata = [future.get(timeout=30) for future in sent]
    producer.close()
    # One key, one partition: the order of an article's versions is kept.
    for key in range(3):
        assert len({m.partition for n, m in enumerate(metadata) if n % 3 == key}) == 1

    group = f"test-{uuid.uuid4().hex[:8]}"
    consumer = kafka_consumer(topics, group, topics.topic_raw, consumer_timeout_ms=20_000)
    received = list(itertools.islice(consumer, 9))
    consumer.commit()
    consumer.close()
    assert sorted(record.value for record in received) == sorted(f"page {n}".encode() for n in range(9))
    for record in received:
        assert record.key == f"article-{int(record.value.split()[1]) % 3}".encode()
        assert record.headers == [("schema_version", b"1"), ("source_id", b"orda-kz")]

    # A new member of the same group resumes after the committed offsets: nothing is redelivered.
    again = kafka_consumer(topics, group, topics.topic_raw, consumer_timeout_ms=3_000)
    assert list(again) == []
    partitions = [TopicPartition(topics.topic_raw, p) for p in range(topics.topic_partitions)]
    assert sum(again.committed(tp) or 0 for tp in partitions) == 9
    again.close()


def test_a_page_of_several_megabytes_goes_through(topics: Settings):
    page = os.urandom(6 * 1024 * 1024)  # random bytes do not compress: the full size travels
    producer = kafka_producer(topics)
    producer.send(topics.topic_raw, key=b"big", value=page).get(timeout=60)
    producer.close()
    consumer = kafka_consumer(topics, f"test-{uuid.uuid4().hex[:8]}", topics.topic_raw, consumer_timeout_ms=20_000)
    received = next(iter(consumer))
    consumer.close()
    assert received.value == page


def test_topics_create_makes_the_three_topics_once(local_services: Settings):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    names = {
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
    }
    env = {**os.environ, **names}
    try:
        first = run_newsflow("topics", "create", env=env)
        assert first.stdout.strip() == f"created: {prefix}.raw, {prefix}.articles, {prefix}.dlq", first.stderr
        assert run_newsflow("topics", "create", env=env).stdout.strip() == "all topics already exist"
    finally:
        admin = kafka_admin(local_services)
        admin.delete_topics(list(names.values()))
        admin.close()


def test_an_unreachable_broker_is_one_clear_error():
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnreachable, match=r"^Kafka at 127\.0\.0\.1:\d+ is not reachable: start it with"):
        kafka_admin(settings, bootstrap_timeout_ms=1000)
