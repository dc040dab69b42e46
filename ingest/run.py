"""One ingest run of a source: discover, fetch what is new or changed, publish to `news.raw`.

`ingest_source` goes through these steps:

1. Fetch the source's feeds, sitemaps (and their children, each at most once) or listing pages,
   conditionally: an unchanged listing answers 304 and yields nothing.
2. Canonicalize the links and drop duplicates; each is one article. Drop those the listing dates
   before the retention horizon (news_retention dropped such articles: they are not taken again).
3. Skip articles that failed for good before, and those published before whose listing date
   is not newer than our last fetch.
4. Take the others newest first, at most `ingest_max_links_per_listing` of each listing and
   `ingest_max_links_per_run` in all; count the rest (`too_many_links`) for a later run.
5. Fetch them, conditionally when we have validators; publish each new or changed page as a
   `RawArticle`, each failed article as a dead letter. A page is sent only once this run claimed
   it in the shared state (`SeenStore.claim`): another run of the source at the same time, on
   another worker, that claimed the same content first publishes it instead (counted not modified).
6. Ingest's checkpoint: wait until Kafka acknowledged every record (`Publisher.flush`); only
   then remember the articles, the listings' validators (unless links were left for later),
   the run's summary and when the source is due again (`ingest.polling`: adaptively, from what
   its feeds announce and when it changed), so a failed run is redone in full by its retry.

A backfill (`run_backfill`, a `Window` of publication dates) runs the same steps with these
differences: step 1 reads the listings in full, never conditionally, and adds the source's
`archive_urls` for the window's days, the older pages of its feeds (RFC 5005, JSON Feed's
next_url) while their entries reach back into the window, and a sitemap index's children but
those last modified before the window; step 2 keeps only the links the listings date within the
window (undated ones only from archive URLs); step 6 remembers no listing, so regular runs keep
their own validators. It repeats the run while links are left for later and the last run
published something.

Whatever a listing, an entry or a page makes the code raise becomes a reason code for that
listing, entry or page, never the end of the run; and `run_ingest` and `poll` go on with the
other sources when one source's run fails.
"""

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, TypeAdapter

from ingest.contract import RawArticle, WebUrl
from ingest.discovery import Link, Listing, newest_first, parse_feed, parse_listing, parse_sitemap
from ingest.fetcher import Fetcher, NotModified, Page, Validators
from ingest.polling import due, next_poll, retry_later, shown_period
from ingest.state import SeenArticle, SeenStore
from newsflow.deadletters import DeadLetter
from newsflow.errors import ConfigError, Failure, IngestFailed, Reason, RecordTooLarge, Rejected, one_line, rejected_as
from newsflow.pages import decode_page
from newsflow.publisher import Publisher
from newsflow.settings import Settings
from newsflow.sources import Source, archive_url, find_source, load_sources
from newsflow.topics import ensure_topics
from newsflow.urls import article_id, canonical_url

WEB_URL: TypeAdapter[str] = TypeAdapter(WebUrl)

log = logging.getLogger(__name__)

MAX_LISTINGS = 50  # feeds, sitemaps or listing pages fetched per run, children of sitemap indexes included
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
    outside_window: int = 0  # a backfill's links dated outside its window, or undated outside archive URLs

    def plus(self, other: "IngestSummary") -> "IngestSummary":
        """This summary's counts and `other`'s (of the same source) added up."""
        counts = {
            name: getattr(self, name) + getattr(other, name)
            for name in ("discovered", "new", "changed", "not_modified", "failed_before", "published", "outside_window")
        }
        skipped = Counter(self.skipped) + Counter(other.skipped)
        return IngestSummary(source_id=self.source_id, skipped=dict(skipped), **counts)


@dataclass(frozen=True)
class Window:
    """A backfill's publication dates: from `start` (included) to `end` (excluded)."""

    start: datetime
    end: datetime

    @classmethod
    def of_days(cls, first: date, last: date) -> "Window":
        """The days from `first` to `last`, both included, in UTC."""
        if last < first:
            raise ConfigError(f"the backfill's last day ({last}) is before its first ({first})")
        if first > datetime.now(UTC).date():
            raise ConfigError(f"the backfill's first day ({first}) is in the future")
        return cls(_midnight(first), _midnight(last) + timedelta(days=1))

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def split(self, days: int) -> list["Window"]:
        """The window in parts of `days` days, the latest first (as ingest takes links: newest first)."""
        parts = []
        end = self.end
        while end > self.start:
            parts.append(Window(max(self.start, end - timedelta(days=days)), end))
            end = parts[-1].start
        return parts

    def archive_urls(self, source: Source) -> list[str]:
        """The source's archive URLs for each day of the window, the latest day first, each once."""
        days = [self.end - timedelta(days=n + 1) for n in range((self.end - self.start).days)]
        return list(dict.fromkeys(archive_url(template, day) for day in days for template in source.archive_urls))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    canonical: str
    link: Link
    seen: SeenArticle | None

    @property
    def dated(self) -> datetime | None:
        """When the listing says the article last changed (or appeared)."""
        return self.link.discovery.modified_at or self.link.discovery.published_at

    @property
    def unchanged_by_date(self) -> bool:
        """Published before, and the listing dates it no later than our last fetch."""
        return self.seen is not None and self.dated is not None and self.dated <= self.seen.fetched_at


@dataclass(frozen=True)
class Fetched:
    page: Page
    html: str
    encoding: str  # the one `html` was decoded from


def _published(link: Link) -> datetime | None:
    """When the listing says the article appeared (or, lacking that, last changed)."""
    return link.discovery.published_at or link.discovery.modified_at


def take_newest(candidates: list[Candidate], per_listing: int, per_run: int) -> list[Candidate]:
    """The candidates one run fetches, at most `per_listing` of each listing and `per_run` in all:
    the newest first by their listing's date, undated after dated, and last the re-checks of
    undated articles fetched before — which would otherwise take the same places at every run and
    keep the articles after them from ever being fetched."""
    taken: list[Candidate] = []
    of_listing: Counter[str] = Counter()
    for candidate in sorted(candidates, key=_fetch_order):
        listing = candidate.link.discovery.listing_url
        if of_listing[listing] < per_listing:
            taken.append(candidate)
            of_listing[listing] += 1
            if len(taken) == per_run:
                break
    return taken


def _fetch_order(candidate: Candidate) -> tuple[bool, bool, float]:
    recheck = candidate.seen is not None and candidate.dated is None  # fetched again in case it changed
    return (recheck, *newest_first(candidate.dated))


def run_ingest(
    settings: Settings,
    source_ids: list[str] | None = None,
    progress: Callable[[Source], Progress] | None = None,
    claimant: str | None = None,
) -> Iterator[IngestSummary]:
    """Ingest the named sources (all when None) once each, one after the other, yielding each
    summary. A source whose run fails does not stop the others: `IngestFailed` names it at the end.
    `claimant` names who claims the pages (`SeenStore.claim`): an Airflow task passes its own."""
    sources = _select(settings, source_ids)
    failed: list[str] = []
    with _connected(settings, claimant) as (store, publisher):
        for source in sources:
            try:
                summary = _ingest(settings, source, store, publisher, progress)
            except IngestFailed as failure:
                failed.append(str(failure))
                continue
            yield summary
    if failed:
        raise IngestFailed(f"the run of {len(failed)} of {len(sources)} sources failed: {'; '.join(failed)}")


def poll(
    settings: Settings,
    source_ids: list[str] | None = None,
    progress: Callable[[Source], Progress] | None = None,
    report: Callable[[IngestSummary], None] = lambda summary: None,
) -> None:
    """Ingest each source whenever it is due (`ingest.polling`: its poll interval, or adaptively),
    until interrupted; a run that fails is logged and the source tried again at its next poll."""
    sources = _select(settings, source_ids)
    with _connected(settings) as (store, publisher):
        while True:
            for source in sources:
                if due(store.poll_state(source.id), datetime.now(UTC)):
                    try:
                        report(_ingest(settings, source, store, publisher, progress))
                    except IngestFailed:  # logged by _ingest; it recorded no next poll
                        store.record_poll(source.id, retry_later(store.poll_state(source.id), source, datetime.now(UTC)))
            soonest = min(state.next_due_at for source in sources if (state := store.poll_state(source.id)))
            time.sleep(max(0.0, (soonest - datetime.now(UTC)).total_seconds()))


def run_backfill(settings: Settings, source_id: str, window: Window, claimant: str | None = None) -> IngestSummary:
    """Publish the articles of `source_id` that its listings date within `window` (see the module's
    docstring), run after run while links are left for later and the last run published some;
    `claimant` as for `run_ingest`."""
    (source,) = _select(settings, [source_id])
    with _connected(settings, claimant) as (store, publisher):
        summary = last = _ingest(settings, source, store, publisher, None, window)
        while last.skipped.get(Reason.TOO_MANY_LINKS) and last.published:
            last = _ingest(settings, source, store, publisher, None, window)
            summary = summary.plus(last)
    # What is left for later is what the last run left, not the sum of what each run had left.
    skipped = {reason: count for reason, count in summary.skipped.items() if reason != Reason.TOO_MANY_LINKS}
    if left := last.skipped.get(Reason.TOO_MANY_LINKS):
        skipped[Reason.TOO_MANY_LINKS] = left
    return summary.model_copy(update={"skipped": skipped})


def _select(settings: Settings, source_ids: list[str] | None) -> list[Source]:
    sources = load_sources(settings.sources_file)
    return [find_source(sources, source_id) for source_id in source_ids] if source_ids else sources


@contextmanager
def _connected(settings: Settings, claimant: str | None = None) -> Iterator[tuple[SeenStore, Publisher]]:
    ensure_topics(settings)
    store = SeenStore.open(settings, claimant)
    publisher = Publisher(settings)
    try:
        yield store, publisher
    finally:
        publisher.close()
        store.close()


def _ingest(
    settings: Settings,
    source: Source,
    store: SeenStore,
    publisher: Publisher,
    progress: Callable[[Source], Progress] | None,
    window: Window | None = None,
) -> IngestSummary:
    """One run of `source`; whatever ends it early is logged and raised as `IngestFailed` naming the source."""
    try:
        return asyncio.run(ingest_source(settings, source, store, publisher, progress(source) if progress else None, window))
    except Exception as exc:  # re-raised as IngestFailed: one source's failure is not the others'
        log.error("ingest %s failed: %s", source.id, exc, exc_info=not isinstance(exc, Failure))  # a bug: its traceback
        raise IngestFailed(f"{source.id}: {one_line(exc)}") from exc


async def ingest_source(
    settings: Settings,
    source: Source,
    store: SeenStore,
    publisher: Publisher,
    progress: Progress | None = None,
    window: Window | None = None,
    polled_at: datetime | None = None,
) -> IngestSummary:
    """One run of `source` (see the module's docstring); `polled_at` is when, for its next poll's
    time (now when None: a benchmark simulating time passes its own)."""
    run = _Run(settings, source, store, publisher, window)
    async with Fetcher(settings, requests_per_second=source.requests_per_second, allow_networks=source.allow_networks) as fetcher:
        links = await run.discover(fetcher)
        candidates = run.candidates(links)
        failed = store.failures([candidate.canonical for candidate in candidates])
        to_fetch = []
        for candidate in candidates:
            if candidate.canonical in failed:
                run.counts["failed_before"] += 1
            elif candidate.unchanged_by_date:
                run.counts["not_modified"] += 1
            else:
                to_fetch.append(candidate)
        fetches = [asyncio.ensure_future(run.fetch(fetcher, candidate)) for candidate in run.within_caps(to_fetch)]
        for done, fetched in enumerate(asyncio.as_completed(fetches), start=1):
            run.publish(*await fetched)
            if progress:
                progress(done, len(fetches))
    publisher.flush()
    run.remember_listings()
    if window is None:
        now = polled_at or datetime.now(UTC)
        fresh = [c for c in candidates if c.seen is None and c.canonical not in failed]  # new to us: it changed
        changed_at = (run.built_at or max((c.dated for c in fresh if c.dated), default=None) or now) if fresh else None
        period = run.announced or shown_period([date for link in links if (date := _published(link))])
        store.record_poll(source.id, next_poll(store.poll_state(source.id), source, now, changed_at, period))
    summary = IngestSummary(
        source_id=source.id,
        discovered=len(candidates),
        new=run.counts["new"],
        changed=run.counts["changed"],
        not_modified=run.counts["not_modified"],
        skipped=dict(run.skipped),
        failed_before=run.counts["failed_before"],
        published=run.counts["new"] + run.counts["changed"],
        outside_window=run.counts["outside_window"],
    )
    if window is None:  # the last regular run, as `newsflow status` shows it
        store.record_run(source.id, datetime.now(UTC), summary.model_dump_json())
    log.info("%s %s: %s", "backfill" if window else "ingest", source.id, summary.model_dump_json())
    return summary


class _Run:
    """The state of one `ingest_source` call, and its steps."""

    def __init__(
        self, settings: Settings, source: Source, store: SeenStore, publisher: Publisher, window: Window | None = None
    ) -> None:
        self.settings = settings
        self.source = source
        self.store = store
        self.publisher = publisher
        self.window = window
        self.archive_listings = window.archive_urls(source) if window else []
        self.horizon = store.horizon()
        self.announced: timedelta | None = None  # the longest update interval its feeds announce
        self.built_at: datetime | None = None  # when its feeds say they were last built, the latest
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.listing_validators: dict[str, Validators] = {}

    async def discover(self, fetcher: Fetcher) -> list[Link]:
        """The links of the source's listings. A sitemap index's children are read too, each URL
        once however often it is listed, and at most MAX_LISTINGS listings in all; a backfill's
        listings as the module's docstring says."""
        links: list[Link] = []
        queue = list(dict.fromkeys([*(str(url) for url in self.source.urls), *self.archive_listings]))
        queued = set(queue)
        read = 0
        while read < min(len(queue), MAX_LISTINGS):
            url = queue[read]
            read += 1
            try:
                with rejected_as(Reason.FETCH_FAILED, url):
                    # A backfill reads every listing in full: a 304 would hide the past articles it is after.
                    validators = None if self.window else self.store.listing_validators(url)
                    page = await fetcher.fetch(url, kind="listing", validators=validators)
                if isinstance(page, NotModified):
                    continue
                with rejected_as(Reason.INVALID_LISTING, page.url):
                    found = self._parse(page)
            except Rejected as exc:
                self._skip(exc, url)
                continue
            links += found.links
            self.announced = max(filter(None, (self.announced, found.update_interval)), default=None)
            self.built_at = max(filter(None, (self.built_at, found.updated_at)), default=None)
            more = [child for child in found.sitemaps if not self._before_window(found.sitemap_modified.get(child))]
            if self.window and self._reaches_window(found.links):
                more += found.older
            queue += [child for child in more if child not in queued]
            queued.update(more)
            if found.first_invalid:
                self._count(
                    Reason.INVALID_ENTRY, found.invalid_entries, f"entries that give no link; the first: {found.first_invalid}"
                )
            self.listing_validators[url] = page.validators
        if len(queue) > read:
            self._count(Reason.TOO_MANY_LINKS, len(queue) - read, f"listings over the {MAX_LISTINGS} read per run")
        return links

    def _before_window(self, modified: datetime | None) -> bool:
        """Whether a listing last modified then holds nothing of the backfill's window."""
        return self.window is not None and modified is not None and modified < self.window.start

    def _reaches_window(self, links: list[Link]) -> bool:
        """Whether a feed page's entries reach back into the window, so its older pages may hold more of it."""
        dates = [date for link in links if (date := _published(link)) is not None]
        return bool(dates) and self.window is not None and min(dates) >= self.window.start

    def _parse(self, page: Page) -> Listing:
        if self.source.kind == "feed":
            return parse_feed(page.body, page.url, page.content_type)
        if self.source.kind == "sitemap":
            return parse_sitemap(page.body, page.url, self.settings.fetch_max_bytes)
        return parse_listing(page.body, page.url, self.source.link_selector or "")

    def candidates(self, links: list[Link]) -> list[Candidate]:
        """One candidate per canonical URL; a link that cannot be canonicalized, or whose canonical URL
        news.raw would refuse (not http(s), too long), is an invalid entry."""
        unique: dict[str, Candidate] = {}
        invalid: list[Rejected] = []
        too_old = 0
        for link in links:
            try:
                with rejected_as(Reason.INVALID_ENTRY, link.discovery.listing_url):
                    canonical = WEB_URL.validate_python(canonical_url(link.url))
            except Rejected as exc:
                invalid.append(exc)
                continue
            published = _published(link)
            if not self._within_window(link):
                self.counts["outside_window"] += 1
            elif self.horizon and published and published < self.horizon:
                too_old += 1
            elif canonical not in unique:
                unique[canonical] = Candidate(canonical, link, None)
        if invalid:
            self._count(Reason.INVALID_ENTRY, len(invalid), f"links that are not URLs; the first: {invalid[0]}")
        if too_old:
            self._count(Reason.TOO_OLD, too_old, f"links dated before the retention horizon {self.horizon}")
        seen = self.store.articles(list(unique))
        return [Candidate(canonical, each.link, seen.get(canonical)) for canonical, each in unique.items()]

    def _within_window(self, link: Link) -> bool:
        """Always in a regular run; in a backfill, a link its listing dates within the window, or
        an undated one of an archive URL (made for one of the window's days)."""
        if self.window is None:
            return True
        published = _published(link)
        return self.window.holds(published) if published else link.discovery.listing_url in self.archive_listings

    def within_caps(self, to_fetch: list[Candidate]) -> list[Candidate]:
        """`take_newest` under the settings' caps; the rest are counted, and fetched by later runs."""
        per_listing, per_run = self.settings.ingest_max_links_per_listing, self.settings.ingest_max_links_per_run
        taken = take_newest(to_fetch, per_listing, per_run)
        if left := len(to_fetch) - len(taken):
            self._count(
                Reason.TOO_MANY_LINKS,
                left,
                f"articles over NEWSFLOW_INGEST_MAX_LINKS_PER_LISTING ({per_listing}) or "
                f"NEWSFLOW_INGEST_MAX_LINKS_PER_RUN ({per_run}), left for later runs",
            )
        return taken

    @staticmethod
    async def fetch(fetcher: Fetcher, candidate: Candidate) -> tuple[Candidate, Fetched | NotModified | Rejected]:
        """The article's page, fetched and decoded, or why not."""
        try:
            with rejected_as(Reason.FETCH_FAILED, candidate.link.url):
                page = await fetcher.fetch(candidate.link.url, validators=candidate.seen.validators if candidate.seen else None)
                if isinstance(page, NotModified):
                    return candidate, page
                return candidate, Fetched(page, *decode_page(page.body, page.content_type, page.url))
        except Rejected as exc:
            return candidate, exc

    def publish(self, candidate: Candidate, outcome: Fetched | NotModified | Rejected) -> None:
        fetched_at = datetime.now(UTC)
        identity = article_id(candidate.canonical)
        if isinstance(outcome, NotModified):
            self.counts["not_modified"] += 1
            self.store.refetched(candidate.canonical, Validators(), fetched_at)
            return
        if isinstance(outcome, Rejected):
            self._skip(outcome, candidate.link.url, identity, candidate.canonical if outcome.permanent else None)
            return
        page = outcome.page
        digest = hashlib.sha256(page.body).hexdigest()
        if candidate.seen and candidate.seen.content_sha256 == digest:
            self.counts["not_modified"] += 1
            self.store.refetched(candidate.canonical, page.validators, fetched_at)
            return
        if not self.store.claim(candidate.canonical, digest, fetched_at):
            self.counts["not_modified"] += 1  # another run published this content, or is publishing it
            return
        first_seen_at = candidate.seen.first_seen_at if candidate.seen else fetched_at
        raw = RawArticle(
            article_id=identity,
            source_id=self.source.id,
            url=page.url,
            canonical_url=candidate.canonical,
            fetched_at=fetched_at,
            first_seen_at=first_seen_at,
            status=page.status,
            headers=page.headers,
            content_type=page.content_type,
            encoding=outcome.encoding,
            html=outcome.html,
            discovery=candidate.link.discovery,
        )
        outcome_name = "changed" if candidate.seen else "new"

        def acknowledged() -> None:
            self.counts[outcome_name] += 1
            self.store.record_article(
                candidate.canonical, identity, self.source.id, page.validators, digest, first_seen_at, fetched_at
            )

        try:
            self.publisher.send(self.settings.topic_raw, raw.key(), raw, acknowledged)
        except RecordTooLarge as exc:
            # A page under the fetch cap can still outgrow a record (UTF-8 after a one-byte encoding,
            # JSON escaping): a dead letter, rather than a run that fails at every retry.
            self._skip(RecordTooLarge(f"{page.url}: the page is {exc}"), candidate.link.url, identity, candidate.canonical)

    def remember_listings(self) -> None:
        """Remember the listings' validators for the next run's conditional GET — none when links
        were left for later, so that the next run reads every listing in full and takes them, and
        nothing after a backfill, whose full reads say nothing of what regular runs took."""
        if self.window:
            return
        fetched_at = datetime.now(UTC)
        left_for_later = self.skipped[Reason.TOO_MANY_LINKS] > 0
        for url, validators in self.listing_validators.items():
            self.store.record_listing(url, Validators() if left_for_later else validators, fetched_at)

    def _count(self, reason: Reason, count: int, detail: str) -> None:
        """Count `count` problems of one kind in the summary, and log them in one line."""
        self.skipped[reason] += count
        log.warning("ingest %s: %s: %d %s", self.source.id, reason, count, detail)

    def _skip(self, error: Rejected, url: str, identity: str | None = None, remember_as: str | None = None) -> None:
        """Count and log the problem; dead-letter it when it concerns an article, and once
        acknowledged, remember a permanent failure under `remember_as` (its canonical URL)."""
        self.skipped[error.reason] += 1
        log.warning("ingest %s: %s: %s", self.source.id, error.reason, error)
        if identity is None:
            return
        letter = DeadLetter(
            stage="ingest",
            reason=error.reason,
            detail=str(error),
            permanent=error.permanent,
            source_id=self.source.id,
            article_id=identity,
            url=url,
        )

        def acknowledged() -> None:
            if remember_as is not None:
                self.store.record_failure(remember_as, error.reason, letter.failed_at)

        self.publisher.send(self.settings.topic_dlq, letter.key(), letter, acknowledged)
