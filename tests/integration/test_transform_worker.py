"""`newsflow worker transform` on the real Kafka: clean articles out, poison to the DLQ, nothing lost."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime

import pytest

from ingest.contract import Discovery, RawArticle
from newsflow.clients import kafka_producer
from newsflow.deadletters import DeadLetter
from newsflow.ops.demo.site import article_page, seed_article_page
from newsflow.settings import Settings
from tests.helpers import read_topic, transform_processes, wait_for
from transform.contract import NormalizedArticle

pytestmark = pytest.mark.integration

SEED_TITLE = "Toqayev: Parliamentary Reform Will Require Major Constitutional Changes"
FIRST_PARAGRAPH = "As part of the upcoming parliamentary reform, Kazakhstan is preparing"
LATEST_NEWS = ("Vice Minister Amrin Comments", "Erdoğan Simplifies Employment Rules", "Dimash Qudaibergen Receives")


def raw_article(n: int, html: str) -> RawArticle:
    now = datetime.now(UTC)
    url = f"https://orda.kz/en/news/story-{n}"
    return RawArticle(
        article_id=f"{n:064x}",
        source_id="orda-kz-en",
        url=url,
        canonical_url=url,
        fetched_at=now,
        first_seen_at=now,
        status=200,
        headers={"content-type": "text/html"},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind="feed", listing_url="https://orda.kz/en/rss", language="en"),
    )


def start_worker(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "newsflow", "worker", "transform", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer = kafka_producer(settings)
    for key, value in records:
        producer.send(settings.topic_raw, key=key, value=value)
    producer.flush()
    producer.close()


def test_articles_come_out_clean_and_poison_goes_to_the_dlq_without_blocking_its_partition(worker_topics):
    seed = raw_article(1, seed_article_page().decode())
    after = raw_article(2, article_page("A later story", ["A later story that must come through. " * 10]).decode())
    no_text = raw_article(3, "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    binary = raw_article(4, "\x00\x01\x02\x03" * 100)
    same_key = b"one-partition"  # everything on one partition, in this order
    produce(
        worker_topics,
        [
            (same_key, b"this is not json {"),
            (same_key, b'{"schema_version": 1, "article_id": "x"}'),
            (same_key, binary.model_dump_json().encode()),
            (same_key, no_text.model_dump_json().encode()),
            (same_key, seed.model_dump_json().encode()),
            (same_key, after.model_dump_json().encode()),
        ],
    )
    worker = start_worker("--processes", "1")
    try:
        wait_for(
            lambda: (
                len(read_topic(worker_topics, worker_topics.topic_articles)) == 2
                and len(read_topic(worker_topics, worker_topics.topic_dlq)) == 4
            )
        )
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{worker_topics.transform_metrics_port}/metrics").read().decode()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        output = worker.communicate(timeout=60)[0].decode()
    assert worker.returncode == 0, output

    articles = {
        a.article_id: a
        for a in (NormalizedArticle.model_validate_json(r.value) for r in read_topic(worker_topics, worker_topics.topic_articles))
    }
    article = articles[seed.article_id]
    assert article.title == SEED_TITLE
    assert article.authors == ["Nikita Drobny"]
    assert article.body.startswith(FIRST_PARAGRAPH)
    assert not any(headline in article.body for headline in LATEST_NEWS)
    assert "Original Author" not in article.body
    assert article.language == "en" and article.word_count > 300
    assert after.article_id in articles

    letters = sorted(
        (DeadLetter.model_validate_json(r.value) for r in read_topic(worker_topics, worker_topics.topic_dlq)),
        key=lambda letter: letter.origin.offset,
    )
    assert [letter.reason for letter in letters] == ["not_json", "schema_violation", "unparsable_html", "too_short"]
    assert all(letter.stage == "transform" and letter.origin.topic == worker_topics.topic_raw for letter in letters)
    assert [letter.origin.offset for letter in letters] == [0, 1, 2, 3]
    assert letters[3].article_id == no_text.article_id and letters[3].original == no_text.model_dump_json()

    counted: Counter[str] = Counter()
    for line in metrics.splitlines():
        if line.startswith("newsflow_transform_records_total{"):
            counted[line.split('outcome="')[1].split('"')[0]] += int(float(line.rsplit(" ", 1)[1]))
    assert counted == {"published": 2, "dead_lettered": 4}  # consumed 6 = published + filtered + dead-lettered


def test_a_record_whose_url_is_not_http_is_a_schema_violation_not_a_clickable_article(worker_topics):
    # A whole article page, written to news.raw by something other than ingest (or redriven from the DLQ)
    page = seed_article_page().decode()
    hostile = raw_article(1, page).model_copy(update={"url": "javascript:alert(document.domain)"})
    good = raw_article(2, page)
    produce(
        worker_topics,
        [(b"one-partition", hostile.model_dump_json().encode()), (b"one-partition", good.model_dump_json().encode())],
    )
    worker = start_worker("--processes", "1")
    try:
        wait_for(
            lambda: (
                len(read_topic(worker_topics, worker_topics.topic_articles))
                + len(read_topic(worker_topics, worker_topics.topic_dlq))
                == 2
            )
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        output = worker.communicate(timeout=60)[0].decode()
    assert worker.returncode == 0, output
    (article,) = [NormalizedArticle.model_validate_json(r.value) for r in read_topic(worker_topics, worker_topics.topic_articles)]
    assert article.article_id == good.article_id
    (letter,) = [DeadLetter.model_validate_json(r.value) for r in read_topic(worker_topics, worker_topics.topic_dlq)]
    assert (letter.stage, letter.reason, letter.origin.offset) == ("transform", "schema_violation", 0)
    assert letter.detail.startswith("not a RawArticle: url:")


def test_a_worker_killed_mid_batch_loses_nothing_and_publishes_nothing_twice(worker_topics, monkeypatch):
    monkeypatch.setenv("NEWSFLOW_TRANSFORM_BATCH_SIZE", "20")
    page = seed_article_page().decode()
    inputs = [raw_article(n, page.replace("Orda.kz reports", f"Orda.kz reports ({n})")) for n in range(300)]
    produce(worker_topics, [(raw.key(), raw.model_dump_json().encode()) for raw in inputs])

    first = start_worker("--processes", "2")
    wait_for(lambda: len(read_topic(worker_topics, worker_topics.topic_articles)) >= 40)
    os.killpg(first.pid, signal.SIGKILL)  # the supervisor and both workers, wherever they are
    first.wait(timeout=30)
    killed_at = len(read_topic(worker_topics, worker_topics.topic_articles))
    assert killed_at < len(inputs), "the kill came after the end: make the run longer"

    second = start_worker("--processes", "2")
    try:
        wait_for(
            lambda: {r.key for r in read_topic(worker_topics, worker_topics.topic_articles)} >= {raw.key() for raw in inputs}
        )
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        output = second.communicate(timeout=60)[0].decode()
    assert second.returncode == 0, output
    # Exactly once: the killed processes' open transactions were aborted by their successors (same ids).
    assert Counter(r.key for r in read_topic(worker_topics, worker_topics.topic_articles)) == {raw.key(): 1 for raw in inputs}
    assert read_topic(worker_topics, worker_topics.topic_dlq) == []


def test_a_stop_asked_while_a_crashed_process_waits_for_its_restart_stops_the_worker(worker_topics):
    worker = start_worker("--processes", "1")
    try:
        wait_for(lambda: len(transform_processes(worker.pid)) == 1)
        os.kill(transform_processes(worker.pid)[0], signal.SIGKILL)  # the supervisor waits 5 s, then restarts it
        time.sleep(1)
        worker.send_signal(signal.SIGTERM)  # during that wait
        output = worker.communicate(timeout=60)[0].decode()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert worker.returncode == 0, output
