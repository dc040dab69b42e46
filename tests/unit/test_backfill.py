"""Which listings a backfill reads and which of their links it keeps, without Kafka or a network:
a sitemap index's children by lastmod, a feed's older pages while they reach the window, a
source's archive URLs for the window's days; and what a backfill's run does not remember."""

import asyncio
from datetime import UTC, date, datetime
from typing import cast

import pytest

from ingest.fetcher import Fetcher, Page, Validators
from ingest.run import IngestSummary, Window, _Run
from newsflow.errors import ConfigError
from newsflow.ops.demo.site import news_sitemap, rss
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.sources import Source
from tests.fake_state import memory_store

SITE = "https://news.example"
NOVEMBER_FIRST_HALF = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))


class SiteFetcher:
    """Answers listings from a dict of path → body, and keeps the URLs asked for."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.asked: list[tuple[str, Validators | None]] = []

    async def fetch(self, url: str, kind: str = "page", validators: Validators | None = None) -> Page:
        self.asked.append((url, validators))
        return Page(url=url, status=200, headers={"etag": '"v1"'}, body=self.bodies[url.removeprefix(SITE)])


def sitemap_index(children: dict[str, str]) -> bytes:
    entries = "".join(
        f"<sitemap><loc>{SITE}{path}</loc><lastmod>{lastmod}</lastmod></sitemap>" for path, lastmod in children.items()
    )
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'.encode()


def rss_page(days: list[int], older: str | None) -> bytes:
    body = rss(
        "Feed",
        [{"title": f"Day {day}", "link": f"{SITE}/news/{day}", "date": f"{day:02d} Nov 2026 12:00:00 +0000"} for day in days],
    )
    if older is None:
        return body
    link = f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="next" href="{older}"/>'
    return body.replace(b"<language>", link.encode() + b"<language>")


def backfill(source: Source, fetcher: SiteFetcher, tmp_path, window: Window = NOVEMBER_FIRST_HALF) -> tuple[_Run, list[str]]:
    store = memory_store()
    run = _Run(Settings(), source, store, cast(Publisher, None), window)
    try:
        candidates = run.candidates(asyncio.run(run.discover(cast(Fetcher, fetcher))))
        run.remember_listings()
        assert store.listing_validators(str(source.urls[0])) is None  # regular runs keep their own validators
    finally:
        store.close()
    return run, sorted(candidate.canonical.removeprefix(SITE) for candidate in candidates)


def test_a_backfill_skips_the_children_of_a_sitemap_index_modified_before_its_window(tmp_path):
    fetcher = SiteFetcher(
        {
            "/sitemap.xml": sitemap_index({"/sitemap-2026-09.xml": "2026-09-30", "/sitemap-2026-11.xml": "2026-11-30"}),
            "/sitemap-2026-11.xml": news_sitemap(
                [
                    {"loc": f"{SITE}/news/nov-20", "date": "2026-11-20T08:00:00Z", "title": "After"},
                    {"loc": f"{SITE}/news/nov-03", "date": "2026-11-03T08:00:00Z", "title": "Within"},
                    {"loc": f"{SITE}/news/nov-15", "date": "2026-11-15T23:59:00Z", "title": "Last day"},
                ]
            ),
        }
    )
    source = Source(id="wire", name="Wire", kind="sitemap", urls=[f"{SITE}/sitemap.xml"])
    run, kept = backfill(source, fetcher, tmp_path)
    assert [url.removeprefix(SITE) for url, _ in fetcher.asked] == ["/sitemap.xml", "/sitemap-2026-11.xml"]
    assert all(validators is None for _, validators in fetcher.asked)  # never conditional: a 304 would hide the past
    assert kept == ["/news/nov-03", "/news/nov-15"]
    assert run.counts["outside_window"] == 1


def test_a_backfill_follows_a_feeds_older_pages_until_they_go_back_beyond_its_window(tmp_path):
    fetcher = SiteFetcher(
        {
            "/rss": rss_page([20, 18], "/rss?page=2"),
            "/rss?page=2": rss_page([10, 5], f"{SITE}/rss?page=3"),
            "/rss?page=3": rss_page([2, 1], "/rss?page=4"),
            "/rss?page=4": rss_page([1], None),  # never asked: page 3 reaches back before the window
        }
    )
    source = Source(id="feed", name="Feed", kind="feed", urls=[f"{SITE}/rss"])
    _, kept = backfill(source, fetcher, tmp_path, Window(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)))
    assert [url.removeprefix(SITE) for url, _ in fetcher.asked] == ["/rss", "/rss?page=2", "/rss?page=3"]
    assert kept == ["/news/10", "/news/2", "/news/5"]


def test_a_regular_run_reads_no_older_pages(tmp_path):
    fetcher = SiteFetcher({"/rss": rss_page([20, 18], "/rss?page=2")})
    store = memory_store()
    run = _Run(Settings(), Source(id="feed", name="Feed", kind="feed", urls=[f"{SITE}/rss"]), store, cast(Publisher, None))
    try:
        assert len(asyncio.run(run.discover(cast(Fetcher, fetcher)))) == 2
    finally:
        store.close()
    assert [url for url, _ in fetcher.asked] == [f"{SITE}/rss"]


def test_a_backfill_reads_each_archive_url_of_its_days_once_and_keeps_their_undated_links(tmp_path):
    day_page = lambda day: f'<ul><li><a href="/news/{day}-a">A</a></li><li><a href="/news/{day}-b">B</a></li></ul>'.encode()  # noqa: E731
    fetcher = SiteFetcher(
        {
            "/latest": b'<ul><li><a href="/news/today">Today</a></li></ul>',
            **{f"/archive/2026/11/{day:02d}": day_page(day) for day in (14, 15)},
            "/archive/2026-11.xml": news_sitemap([]),
        }
    )
    source = Source(
        id="paper",
        name="Paper",
        kind="listing",
        link_selector="li",
        urls=[f"{SITE}/latest"],
        archive_urls=[f"{SITE}/archive/{{date:%Y/%m/%d}}"],
    )
    window = Window(datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
    assert window.archive_urls(source) == [f"{SITE}/archive/2026/11/15", f"{SITE}/archive/2026/11/14"]
    run, kept = backfill(source, fetcher, tmp_path, window)
    assert kept == ["/news/14-a", "/news/14-b", "/news/15-a", "/news/15-b"]  # /latest's undated link: no date to judge it by
    assert run.counts["outside_window"] == 1
    monthly = source.model_copy(update={"archive_urls": [f"{SITE}/archive/{{date:%Y-%m}}.xml"]})
    assert window.archive_urls(monthly) == [f"{SITE}/archive/2026-11.xml"]


def test_summaries_add_up():
    first = IngestSummary(source_id="s", discovered=10, new=5, published=5, skipped={"too_many_links": 5, "http_status": 1})
    later = IngestSummary(source_id="s", discovered=10, new=3, not_modified=5, published=3, skipped={"too_many_links": 2})
    total = first.plus(later)
    assert (total.discovered, total.new, total.not_modified, total.published) == (20, 8, 5, 8)
    assert total.skipped == {"too_many_links": 7, "http_status": 1}


def test_a_window_of_days_splits_into_parts_the_latest_first():
    window = Window.of_days(date(2026, 11, 1), date(2026, 11, 10))
    assert (window.start, window.end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    assert [(part.start.day, part.end.day) for part in window.split(4)] == [(7, 11), (3, 7), (1, 3)]
    with pytest.raises(ConfigError, match=r"^the backfill's last day \(2026-11-01\) is before its first \(2026-11-02\)$"):
        Window.of_days(date(2026, 11, 2), date(2026, 11, 1))
