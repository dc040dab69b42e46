"""Transform workers killed between publishing and committing leave no duplicate on news.articles.

A Kafka broker of its own carries the fault suite's corpus (5,000 articles, 50 syndicated copies,
30 poison records: `test_crashes.corpus`) through `newsflow worker transform --processes 2`. Each
time a transaction is open with records on news.articles — its high watermark (read_uncommitted)
ahead of its last stable offset (read_committed): a batch published and not committed — after
another 500 records were committed, every transform process is killed with SIGKILL, and the
supervisor restarts them under the same transactional ids. At the end, reading read_committed:

- news.articles holds each article exactly once (counted by article id), none missing;
- news.dlq holds exactly one letter per poison record (by its place on news.raw).

The figures (kills, records written by the aborted transactions, which an at-least-once worker
would have left as duplicates, seconds) are printed whatever the outcome.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from kafka import TopicPartition

from newsflow.clients import kafka_consumer, kafka_producer
from newsflow.deadletters import DeadLetter
from newsflow.ops.status import Probe
from newsflow.settings import Settings
from newsflow.topics import ensure_topics, read_all
from tests.helpers import settings_of, transform_processes, wait_for
from tests.pipeline_run import corpus

pytestmark = pytest.mark.faults

KILLS = 5
SPACING = 500  # records committed on news.articles between two kills, so the kills spread over the run


def test_transform_processes_killed_before_their_commit_publish_each_article_once(own_kafka, capsys):
    env, home = own_kafka
    env = {**env, "NEWSFLOW_TRANSFORM_EXACTLY_ONCE": "true"}
    seed = int(os.environ.get("NEWSFLOW_FAULTS_SEED", random.randrange(10**6)))
    articles, copies, poison = corpus(random.Random(seed))
    settings = settings_of(env)
    ensure_topics(settings)
    producer = kafka_producer(settings)
    for raw in articles + copies:
        producer.send(settings.topic_raw, key=raw.key(), value=raw.model_dump_json().encode())
    poison_sent = [
        (reason, producer.send(settings.topic_raw, key=f"poison-{i}".encode(), value=value))
        for i, (reason, value) in enumerate(poison)
    ]
    producer.flush()
    producer.close()
    poison_places = {(meta.partition, meta.offset): reason for reason, future in poison_sent for meta in [future.get()]}

    log = (home / "transform.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "worker", "transform", "--processes", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run: dict = {"seed": seed, "kills": []}
    started = time.monotonic()
    try:
        with Ends(settings) as ends, Probe(settings) as probe:
            while len(run["kills"]) < KILLS:
                assert probe.backlog(settings.transform_group, settings.topic_raw).lag > 0, (
                    f"news.raw consumed after {len(run['kills'])} kills: make the run longer"
                )
                processes = transform_processes(worker.pid)
                if len(processes) == 2 and ends.committed() >= SPACING * (len(run["kills"]) + 1) and ends.open_transaction():
                    for pid in processes:
                        os.kill(pid, signal.SIGKILL)
                    run["kills"].append(f"at {ends.committed()} committed ({time.monotonic() - started:.0f} s)")
                    _wait_for_restart(worker.pid, processes)
                time.sleep(0.05)
            wait_for(lambda: probe.backlog(settings.transform_group, settings.topic_raw).lag == 0, timeout=1200)
        run["seconds"] = round(time.monotonic() - started)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        run["worker stopped on SIGTERM"] = worker.wait(120) == 0
        committed = [json.loads(record.value)["article_id"] for record in _read(settings, settings.topic_articles)]
        everything = _read(settings, settings.topic_articles, isolation_level="read_uncommitted")
        run["records on news.articles, read_committed"] = len(committed)
        run["records written by aborted transactions"] = len(everything) - len(committed)
        with capsys.disabled():
            print("\nexactly-once fault test:", json.dumps(run, indent=1))

    assert Counter(committed) == {raw.article_id: 1 for raw in articles + copies}
    letters = [DeadLetter.model_validate_json(record.value) for record in _read(settings, settings.topic_dlq)]
    by_origin = Counter((letter.origin.partition, letter.origin.offset) for letter in letters if letter.origin)
    assert by_origin == dict.fromkeys(poison_places, 1)
    assert {
        (letter.origin.partition, letter.origin.offset): letter.reason for letter in letters if letter.origin
    } == poison_places
    assert run["worker stopped on SIGTERM"]


class Ends:
    """The ends of news.articles as a read_uncommitted and a read_committed consumer see them."""

    def __init__(self, settings: Settings) -> None:
        self._uncommitted = kafka_consumer(settings, None, isolation_level="read_uncommitted")
        self._committed = kafka_consumer(settings, None)
        self._partitions = [
            TopicPartition(settings.topic_articles, p)
            for p in sorted(self._committed.partitions_for_topic(settings.topic_articles))
        ]

    def __enter__(self) -> "Ends":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._uncommitted.close()
        self._committed.close()

    def committed(self) -> int:
        return sum(self._committed.end_offsets(self._partitions).values())

    def open_transaction(self) -> bool:
        """Whether a transaction has written records it has not committed yet (high watermark past the last stable offset)."""
        stable = self._committed.end_offsets(self._partitions)
        high = self._uncommitted.end_offsets(self._partitions)
        return any(high[tp] > stable[tp] for tp in self._partitions)


def _wait_for_restart(supervisor: int, killed: list[int]) -> None:
    """Until the supervisor has started a new process for each of `killed`."""
    wait_for(lambda: len(now := transform_processes(supervisor)) == len(killed) and not set(now) & set(killed))


def _read(settings: Settings, topic: str, **overrides: str) -> list:
    consumer = kafka_consumer(settings, None, **overrides)
    try:
        return read_all(consumer, topic)
    finally:
        consumer.close()
