"""Plain helpers of the tests (the fixtures are in conftest.py): run the command, read settings
from an environment, find a free port, own and read topics, index articles, find worker processes, wait."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from newsflow.settings import Settings


def run_newsflow(*arguments: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `newsflow` command as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def settings_of(env: dict[str, str]) -> Settings:
    """The settings the `NEWSFLOW_` variables of `env` make (a child process's environment)."""
    from newsflow.settings import load_settings

    prefix = "NEWSFLOW_"
    fields = {key.removeprefix(prefix).lower(): value for key, value in env.items() if key.startswith(prefix)}
    return load_settings(**{name: value for name, value in fields.items() if name in Settings.model_fields})


def ingest_state_of_test(settings: Settings):
    """The ingest state of the running test (its own index, which the autouse fixture `own_ingest_state`
    names in os.environ), for `settings` made before the test started."""
    import os

    from ingest.state import SeenStore

    return SeenStore.open(settings.model_copy(update={"ingest_state_index": os.environ["NEWSFLOW_INGEST_STATE_INDEX"]}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def own_topics(settings: Settings) -> Iterator[Settings]:
    """The three topics of `settings`, created for the block and deleted after it."""
    from newsflow.clients import kafka_admin
    from newsflow.topics import ensure_topics

    ensure_topics(settings)
    try:
        yield settings
    finally:
        admin = kafka_admin(settings)
        admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
        admin.close()


@contextmanager
def indexed_articles(settings: Settings, articles: Iterable) -> Iterator[Settings]:
    """`articles` (NormalizedArticles) in a fresh alias of their own, indexed through news.articles by the real
    indexer (so near-duplicates get `duplicate_of`), for the block; the settings of that alias and its topics.
    The indices, template and topics are deleted after it."""
    import uuid

    from newsflow.clients import elasticsearch_client, kafka_producer
    from newsflow.publisher import Publisher
    from search.index import create_index, template_name
    from search.indexer import Indexer

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(
        update={
            "index_alias": prefix,
            "topic_raw": f"{prefix}.raw",
            "topic_articles": f"{prefix}.articles",
            "topic_dlq": f"{prefix}.dlq",
        }
    )
    with own_topics(own):
        es = elasticsearch_client(own)
        create_index(es, own)
        try:
            producer = kafka_producer(own)
            for item in articles:
                producer.send(own.topic_articles, key=item.key(), value=item.model_dump_json().encode())
            producer.flush()
            producer.close()
            publisher = Publisher(own)
            Indexer(own, es, publisher).index_batch(read_topic(own, own.topic_articles))
            publisher.close()
            es.indices.refresh(index=own.index_alias)
            yield own
        finally:
            es.indices.delete(index=list(es.indices.get(index=f"{prefix}-*")))
            es.indices.delete_index_template(name=template_name(own))
            es.close()


def read_topic(settings: Settings, topic: str) -> list:
    """Every record of `topic`, read from the beginning to the current end, without a group."""
    from newsflow.clients import kafka_consumer
    from newsflow.topics import read_all

    consumer = kafka_consumer(settings, None)
    try:
        return read_all(consumer, topic)
    finally:
        consumer.close()


def transform_processes(supervisor: int) -> list[int]:
    """The pids of a `newsflow worker transform` supervisor's worker processes."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def wait_for(condition, timeout: float = 180.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
