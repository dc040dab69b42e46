"""The logic of an ingest run without Kafka or a network: which links a run takes under its caps,
what an unexpected error of one page becomes, and that one failing source does not stop the others.

`ingest_source` and `_connected` are replaced by stand-ins where a test needs a whole run.
"""

import asyncio
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
import yaml

import ingest.run
from ingest.contract import Discovery
from ingest.discovery import Link
from ingest.fetcher import Fetcher, Page, Validators
from ingest.run import Candidate, IngestSummary, _Run, run_ingest, take_newest
from ingest.state import SeenArticle
from newsflow.errors import IngestFailed, PublishFailed, Reason, Rejected
from newsflow.ops.demo.site import rss
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.sources import Source
from tests.fake_state import memory_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def candidate(name: str, listing: str = "https://news.example/sitemap.xml", hours: int | None = None, seen: bool = False):
    dated = T0 + timedelta(hours=hours) if hours is not None else None
    url = f"https://news.example/{name}"
    previously = SeenArticle("id", Validators(), "sha", T0, T0) if seen else None
    return Candidate(url, Link(url, Discovery(kind="sitemap", listing_url=listing, published_at=dated)), previously)


def names(candidates: list[Candidate]) -> list[str]:
    return [c.canonical.rsplit("/", 1)[1] for c in candidates]


def test_a_run_takes_the_newest_links_first_and_undated_ones_after_the_dated():
    links = [candidate("old", hours=1), candidate("undated"), candidate("newest", hours=30), candidate("new", hours=20)]
    assert names(take_newest(links, per_listing=10, per_run=10)) == ["newest", "new", "old", "undated"]
    assert names(take_newest(links, per_listing=2, per_run=10)) == ["newest", "new"]
    assert names(take_newest(links, per_listing=10, per_run=3)) == ["newest", "new", "old"]


def test_the_per_listing_cap_leaves_room_for_the_other_listings():
    archive = [candidate(f"archive-{n}", "https://news.example/archive.xml", hours=100 + n) for n in range(5)]
    today = [candidate(f"today-{n}", "https://news.example/today.xml", hours=n) for n in range(3)]
    taken = take_newest(archive + today, per_listing=2, per_run=10)
    assert names(taken) == ["archive-4", "archive-3", "today-2", "today-1"]


def test_rechecks_of_undated_articles_come_after_every_new_one():
    """A re-check (seen before, no date: fetched conditionally) placed first would take the same
    places at every run, and the new links after the cap would never be fetched."""
    rechecks = [candidate(f"seen-{n}", seen=True) for n in range(3)]
    new = [candidate(f"new-{n}") for n in range(3)]
    assert names(take_newest(rechecks + new, per_listing=100, per_run=4)) == ["new-0", "new-1", "new-2", "seen-0"]


class RaisingFetcher:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def fetch(self, url: str, kind: str = "page", validators: Validators | None = None) -> None:
        raise self.error


def raising(error: Exception) -> Fetcher:
    return cast(Fetcher, RaisingFetcher(error))


def test_whatever_a_page_makes_the_fetcher_raise_is_a_reason_for_that_page():
    page = candidate("a")
    _, outcome = asyncio.run(_Run.fetch(raising(ValueError("Invalid IPv6 URL")), page))
    assert isinstance(outcome, Rejected) and outcome.reason == "fetch_failed"
    assert str(outcome) == "https://news.example/a: ValueError: Invalid IPv6 URL (in fetch)"
    refused = Rejected(Reason.ROBOTS_DISALLOWED, "no")
    assert asyncio.run(_Run.fetch(raising(refused), page))[1] is refused


class FeedFetcher:
    """Every listing a feed of one story, on the listing's host."""

    async def fetch(self, url: str, kind: str = "page", validators: Validators | None = None) -> Page:
        story = url.replace("/rss", "/story")
        body = rss("Feed", [{"title": "Story", "link": story}])
        return Page(url=url, status=200, headers={"content-type": "application/rss+xml"}, body=body)


def test_whatever_a_listing_makes_its_parser_raise_is_an_invalid_listing_and_the_others_are_read(tmp_path, monkeypatch):
    parse_feed = ingest.run.parse_feed

    def parse_or_raise(body: bytes, url: str, content_type: str = ""):
        if "broken" in url:
            raise RecursionError("maximum recursion depth exceeded")
        return parse_feed(body, url, content_type)

    monkeypatch.setattr(ingest.run, "parse_feed", parse_or_raise)
    source = Source(id="two", name="two", kind="feed", urls=["https://broken.example/rss", "https://fine.example/rss"])
    store = memory_store()
    run = _Run(Settings(), source, store, cast(Publisher, None))  # a listing's problem is no dead letter
    try:
        links = asyncio.run(run.discover(cast(Fetcher, FeedFetcher())))
    finally:
        store.close()
    assert [link.url for link in links] == ["https://fine.example/story"]
    assert run.skipped == {"invalid_listing": 1}


@pytest.fixture
def three_sources(tmp_path: Path, monkeypatch) -> Settings:
    """Sources a, b and c; a run of b raises. Neither Kafka nor a site is needed."""
    sources = [{"id": name, "name": name, "kind": "feed", "urls": [f"https://{name}.example/rss"]} for name in "abc"]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))

    @contextmanager
    def connected(settings, claimant=None):
        yield None, None

    async def ingest_source(settings, source, store, publisher, progress=None, window=None):
        if source.id == "b":
            raise PublishFailed("Kafka refused 1 of 3 records")
        return IngestSummary(source_id=source.id)

    monkeypatch.setattr(ingest.run, "_connected", connected)
    monkeypatch.setattr(ingest.run, "ingest_source", ingest_source)
    return Settings(sources_file=tmp_path / "sources.yaml")


def test_one_failing_source_does_not_stop_the_others_and_the_run_names_it(three_sources: Settings):
    ran = []
    with pytest.raises(IngestFailed) as failed:
        for summary in run_ingest(three_sources):
            ran.append(summary.source_id)
    assert ran == ["a", "c"]
    assert str(failed.value) == "the run of 1 of 3 sources failed: b: PublishFailed: Kafka refused 1 of 3 records"


def test_links_dated_before_the_retention_horizon_are_not_taken_again(tmp_path):
    store = memory_store()
    store.record_horizon(T0)
    run = _Run(
        Settings(),
        Source(id="s", name="s", kind="sitemap", urls=["https://news.example/sitemap.xml"]),
        store,
        cast(Publisher, None),
    )
    try:
        links = [candidate("dropped", hours=-1).link, candidate("kept", hours=1).link, candidate("undated").link]
        assert names(run.candidates(links)) == ["kept", "undated"]  # an undated link: no date to judge it by
    finally:
        store.close()
    assert run.skipped == {"too_old": 1}
