"""One ingest run of a source: discover, fetch what is new or changed, publish to `news.raw`.

`ingest_source` goes through these steps:

1. Fetch the source's feeds, sitemaps (and their children) or listing pages, conditionally:
   an unchanged listing answers 304 and yields nothing.
2. Canonicalize the links and drop duplicates; each is one article.
3. Skip articles that failed for good before, and those published before whose listing date
   is not newer than our last fetch; fetch the others, conditionally when we have validators.
4. Publish each new or changed page as a `RawArticle`, each failed article as a dead letter.
5. Ingest's checkpoint: wait until Kafka acknowledged every record (`Publisher.flush`); only
   then remember the articles, the listings' validators and the run's summary, so a failed run
   is redone in full by its retry.
"""

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from ingest.contract import RawArticle
from ingest.discovery import Link, parse_feed, parse_listing, parse_sitemap
from ingest.fetcher import Fetcher, NotModified, Page, Validators
from ingest.state import SeenArticle, SeenStore
from newsflow.deadletters import DeadLetter
from newsflow.errors import RecordTooLarge, Rejected
from newsflow.pages import decode_page
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.sources import Source, find_source, load_sources
from newsflow.topics import ensure_topics
from newsflow.urls import article_id, canonical_url

log = logging.getLogger(__name__)

MAX_SITEMAPS = 50  # sitemaps fetched per run, children of sitemap indexes included
Progress = Callable[[int, int], None]  # (articles done, articles to fetch)


class IngestSummary(BaseModel):
    """What one run of one source did; small enough for an Airflow XCom."""

    source_id: str
    discovered: int = 0
    new: int = 0
    changed: int = 0
    not_modified: int = 0
    skipped: dict[str, int] = {}
    failed_before: int = 0
    published: int = 0


@dataclass(frozen=True)
class Candidate:
    canonical: str
    link: Link
    seen: SeenArticle | None

    @property
    def unchanged_by_date(self) -> bool:
        """Published before, and the listing dates it no later than our last fetch."""
        dated = self.link.discovery.modified_at or self.link.discovery.published_at
        return self.seen is not None and dated is not None and dated <= self.seen.fetched_at


def run_ingest(
    settings: Settings, source_ids: list[str] | None = None, progress: Callable[[Source], Progress] | None = None
) -> list[IngestSummary]:
    """Ingest the named sources (all when None) once each, one after the other."""
    sources = _select(settings, source_ids)
    with _connected(settings) as (store, publisher):
        return [_ingest(settings, source, store, publisher, progress) for source in sources]


def poll(
    settings: Settings,
    source_ids: list[str] | None = None,
    progress: Callable[[Source], Progress] | None = None,
    report: Callable[[IngestSummary], None] = lambda summary: None,
) -> None:
    """Ingest each source again whenever its poll interval has passed, until interrupted."""
    sources = _select(settings, source_ids)
    due = {source.id: 0.0 for source in sources}
    with _connected(settings) as (store, publisher):
        while True:
            for source in sources:
                if due[source.id] <= time.monotonic():
                    report(_ingest(settings, source, store, publisher, progress))
                    due[source.id] = time.monotonic() + source.poll_interval_minutes * 60
            time.sleep(max(0.0, min(due.values()) - time.monotonic()))


def _select(settings: Settings, source_ids: list[str] | None) -> list[Source]:
    sources = load_sources(settings.sources_file)
    return [find_source(sources, source_id) for source_id in source_ids] if source_ids else sources


@contextmanager
def _connected(settings: Settings) -> Iterator[tuple[SeenStore, Publisher]]:
    ensure_topics(settings)
    store = SeenStore.under(settings.state_dir)
    publisher = Publisher(settings)
    try:
        yield store, publisher
    finally:
        publisher.close()
        store.close()


def _ingest(
    settings: Settings, source: Source, store: SeenStore, publisher: Publisher, progress: Callable[[Source], Progress] | None
) -> IngestSummary:
    return asyncio.run(ingest_source(settings, source, store, publisher, progress(source) if progress else None))


async def ingest_source(
    settings: Settings, source: Source, store: SeenStore, publisher: Publisher, progress: Progress | None = None
) -> IngestSummary:
    run = _Run(settings, source, store, publisher)
    async with Fetcher(settings, requests_per_second=source.requests_per_second, allow_networks=source.allow_networks) as fetcher:
        links = await run.discover(fetcher)
        candidates = run.candidates(links)
        to_fetch = []
        for candidate in candidates:
            if store.failure(candidate.canonical):
                run.counts["failed_before"] += 1
            elif candidate.unchanged_by_date:
                run.counts["not_modified"] += 1
            else:
                to_fetch.append(candidate)
        fetches = [asyncio.ensure_future(run.fetch(fetcher, candidate)) for candidate in to_fetch]
        for done, fetched in enumerate(asyncio.as_completed(fetches), start=1):
            run.publish(*await fetched)
            if progress:
                progress(done, len(fetches))
    publisher.flush()
    run.remember_listings()
    summary = IngestSummary(
        source_id=source.id,
        discovered=len(candidates),
        new=run.counts["new"],
        changed=run.counts["changed"],
        not_modified=run.counts["not_modified"],
        skipped=dict(run.skipped),
        failed_before=run.counts["failed_before"],
        published=run.counts["new"] + run.counts["changed"],
    )
    store.record_run(source.id, datetime.now(UTC), summary.model_dump_json())
    log.info("ingest %s: %s", source.id, summary.model_dump_json())
    return summary


class _Run:
    """The state of one `ingest_source` call, and its steps."""

    def __init__(self, settings: Settings, source: Source, store: SeenStore, publisher: Publisher) -> None:
        self.settings = settings
        self.source = source
        self.store = store
        self.publisher = publisher
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.listing_validators: dict[str, Validators] = {}

    async def discover(self, fetcher: Fetcher) -> list[Link]:
        links: list[Link] = []
        queue = [str(url) for url in self.source.urls]
        fetched = 0
        while queue and fetched < MAX_SITEMAPS:
            url = queue.pop(0)
            fetched += 1
            try:
                page = await fetcher.fetch(url, kind="listing", validators=self.store.listing_validators(url))
                if isinstance(page, NotModified):
                    continue
                if self.source.kind == "feed":
                    links += parse_feed(page.body, page.url, page.content_type)
                elif self.source.kind == "sitemap":
                    found = parse_sitemap(page.body, page.url, self.settings.fetch_max_bytes)
                    links += found.articles
                    queue += found.sitemaps
                else:
                    links += parse_listing(page.body, page.url, self.source.link_selector or "")
            except Rejected as exc:
                self._skip(exc, url)
                continue
            self.listing_validators[url] = page.validators
        return links

    def candidates(self, links: list[Link]) -> list[Candidate]:
        unique: dict[str, Candidate] = {}
        for link in links:
            canonical = canonical_url(link.url)
            if canonical not in unique:
                unique[canonical] = Candidate(canonical, link, self.store.article(canonical))
        return list(unique.values())

    @staticmethod
    async def fetch(fetcher: Fetcher, candidate: Candidate) -> tuple[Candidate, Page | NotModified | Rejected]:
        try:
            return candidate, await fetcher.fetch(
                candidate.link.url, validators=candidate.seen.validators if candidate.seen else None
            )
        except Rejected as exc:
            return candidate, exc

    def publish(self, candidate: Candidate, outcome: Page | NotModified | Rejected) -> None:
        fetched_at = datetime.now(UTC)
        identity = article_id(candidate.canonical)
        if isinstance(outcome, NotModified):
            self.counts["not_modified"] += 1
            self.store.refetched(candidate.canonical, Validators(), fetched_at)
            return
        try:
            if isinstance(outcome, Rejected):
                raise outcome
            html, encoding = decode_page(outcome.body, outcome.content_type, outcome.url)
        except Rejected as error:  # the fetch's own error, or the page's decoding
            self._skip(error, candidate.link.url, identity, candidate.canonical if error.permanent else None)
            return
        digest = hashlib.sha256(outcome.body).hexdigest()
        if candidate.seen and candidate.seen.content_sha256 == digest:
            self.counts["not_modified"] += 1
            self.store.refetched(candidate.canonical, outcome.validators, fetched_at)
            return
        first_seen_at = candidate.seen.first_seen_at if candidate.seen else fetched_at
        raw = RawArticle(
            article_id=identity,
            source_id=self.source.id,
            url=outcome.url,
            canonical_url=candidate.canonical,
            fetched_at=fetched_at,
            first_seen_at=first_seen_at,
            status=outcome.status,
            headers=outcome.headers,
            content_type=outcome.content_type,
            encoding=encoding,
            html=html,
            discovery=candidate.link.discovery,
        )
        outcome_name = "changed" if candidate.seen else "new"

        def acknowledged() -> None:
            self.counts[outcome_name] += 1
            self.store.record_article(
                candidate.canonical, identity, self.source.id, outcome.validators, digest, first_seen_at, fetched_at
            )

        try:
            self.publisher.send(self.settings.topic_raw, raw.key(), raw, acknowledged)
        except RecordTooLarge as exc:
            # A page under the fetch cap can still outgrow a record (UTF-8 after a one-byte encoding,
            # JSON escaping): a dead letter, rather than a run that fails at every retry.
            self._skip(RecordTooLarge(f"{outcome.url}: the page is {exc}"), candidate.link.url, identity, candidate.canonical)

    def remember_listings(self) -> None:
        fetched_at = datetime.now(UTC)
        for url, validators in self.listing_validators.items():
            self.store.record_listing(url, validators, fetched_at)

    def _skip(self, error: Rejected, url: str, identity: str | None = None, remember_as: str | None = None) -> None:
        """Count and log the problem; dead-letter it when it concerns an article, and once
        acknowledged, remember a permanent failure under `remember_as` (its canonical URL)."""
        self.skipped[error.reason] += 1
        log.warning("ingest %s: %s: %s", self.source.id, error.reason, error)
        if identity is None:
            return
        letter = DeadLetter(
            stage="ingest", reason=error.reason, detail=str(error), source_id=self.source.id, article_id=identity, url=url
        )

        def acknowledged() -> None:
            if remember_as is not None:
                self.store.record_failure(remember_as, error.reason, letter.failed_at)

        self.publisher.send(self.settings.topic_dlq, letter.key(), letter, acknowledged)
