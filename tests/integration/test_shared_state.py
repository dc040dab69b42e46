"""Ingest's shared state on the real Elasticsearch and Kafka: two runs of one source at once, on
separate local state dirs (standing for two Airflow workers), publish each article once; an
earlier version's SQLite state file is imported once; a claim keeps other claimants off, not a retry."""

import asyncio
import sqlite3
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ingest.contract import RawArticle
from ingest.fetcher import Validators
from ingest.run import IngestSummary, ingest_source
from ingest.state import SeenStore
from newsflow.ops.demo.site import NewsSite, Response, article_page, rss
from newsflow.publisher import Publisher
from newsflow.settings import Settings, load_settings
from newsflow.sources import Source
from newsflow.urls import article_id
from tests.helpers import own_topics, read_topic

pytestmark = pytest.mark.integration

STORIES = 40


def test_two_runs_of_one_source_at_once_publish_each_article_once(local_services, tmp_path):
    settings = load_settings()  # after the autouse fixture named this test's state index
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    topics = settings.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    with NewsSite() as site, own_topics(topics):
        for n in range(STORIES):
            site.routes[f"/news/{n}"] = Response(
                article_page(f"Story {n}", [f"Story {n}: the first paragraph.", "A second one."])
            )
        site.routes["/feed.xml"] = Response(
            rss("Shared", [{"title": f"Story {n}", "link": site.url(f"/news/{n}")} for n in range(STORIES)]),
            "application/rss+xml",
        )
        source = Source(
            id="shared",
            name="Shared",
            kind="feed",
            urls=[site.url("/feed.xml")],
            requests_per_second=1000,
            allow_networks=["127.0.0.0/8"],
        )
        start = threading.Barrier(2)
        summaries: list[IngestSummary] = []

        def worker(name: str) -> None:
            own = topics.model_copy(update={"state_dir": tmp_path / name})  # its own local dir, as on another machine
            store, publisher = SeenStore.open(own), Publisher(own)
            try:
                start.wait()
                summaries.append(asyncio.run(ingest_source(own, source, store, publisher)))
            finally:
                publisher.close()
                store.close()

        threads = [threading.Thread(target=worker, args=(name,)) for name in ("worker-a", "worker-b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        published = Counter(
            RawArticle.model_validate_json(record.value).article_id for record in read_topic(topics, topics.topic_raw)
        )

    assert len(summaries) == 2, "a run failed: see the log"
    assert published == {article_id(site.url(f"/news/{n}")): 1 for n in range(STORIES)}
    assert sum(summary.published for summary in summaries) == STORIES
    assert all(summary.discovered == STORIES for summary in summaries)


def test_an_sqlite_state_file_is_imported_once_and_what_the_shared_store_holds_wins(local_services, tmp_path):
    path = tmp_path / "ingest.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE articles (url TEXT PRIMARY KEY, article_id TEXT NOT NULL, source_id TEXT NOT NULL, etag TEXT,
            last_modified TEXT, content_sha256 TEXT NOT NULL, first_seen_at TEXT NOT NULL, fetched_at TEXT NOT NULL);
        CREATE TABLE runs (source_id TEXT PRIMARY KEY, finished_at TEXT NOT NULL, summary TEXT NOT NULL);
        CREATE TABLE horizon (single INTEGER PRIMARY KEY CHECK (single = 1), dropped_before TEXT NOT NULL);
        CREATE TABLE listings (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, fetched_at TEXT NOT NULL);
        """
    )
    when = "2026-11-01T10:00:00+00:00"
    db.execute(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ("https://a.example/1", "id1", "a", '"e1"', None, "sha1", when, when),
    )
    db.execute("INSERT INTO runs VALUES (?, ?, ?)", ("a", when, '{"source_id": "a"}'))
    db.execute("INSERT INTO horizon VALUES (1, ?)", (when,))
    db.execute("INSERT INTO listings VALUES (?, ?, ?, ?)", ("https://a.example/rss", '"old"', None, when))
    db.commit()
    db.close()
    settings: Settings = load_settings(ingest_state_sqlite=path)
    first = SeenStore(settings)  # the shared store already knows a newer listing validator
    first.record_listing("https://a.example/rss", Validators('"new"', None), datetime.now(UTC))
    first.close()

    store = SeenStore.open(settings)
    try:
        seen = store.article("https://a.example/1")
        assert seen is not None and (seen.article_id, seen.validators.etag, seen.content_sha256) == ("id1", '"e1"', "sha1")
        assert store.last_runs() == [("a", datetime.fromisoformat(when), '{"source_id": "a"}')]
        assert store.horizon() == datetime.fromisoformat(when)
        assert store.listing_validators("https://a.example/rss") == Validators('"new"', None)
    finally:
        store.close()
    assert not path.exists() and path.with_name("ingest.sqlite3.imported").is_file()


def test_a_claim_keeps_other_claimants_off_until_it_expires_but_not_a_retry_of_its_claimant(local_services):
    settings = load_settings(ingest_claim_seconds=60)
    url, now = "https://a.example/claimed", datetime.now(UTC)
    stores = {name: SeenStore(settings, claimant=name) for name in ("task-1", "task-2")}
    retry = SeenStore(settings, claimant="task-1")  # the task's next try, after the first died holding its claim
    try:
        assert stores["task-1"].claim(url, "sha-a", now)
        assert not stores["task-2"].claim(url, "sha-a", now)
        assert retry.claim(url, "sha-a", now)
        assert stores["task-2"].claim(url, "sha-a", now + timedelta(seconds=61))  # expired: late, not lost
        retry.record_article(url, article_id(url), "a", Validators(), "sha-a", now, now)
        assert not retry.claim(url, "sha-a", now + timedelta(seconds=200))  # published: nobody sends it again
    finally:
        for store in [*stores.values(), retry]:
            store.close()
