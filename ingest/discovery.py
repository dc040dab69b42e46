"""Find article links in feeds (RSS, Atom, JSON Feed), sitemaps (incl. news sitemaps and sitemap
indexes) and listing pages.

Parsing only: bodies arrive already fetched. Each parser goes through these steps:

1. Parse the whole body — XML without DTDs, entities or network, a JSON Feed through its model —
   or raise `Rejected(invalid_listing)` saying why it is not one.
2. Read each entry on its own into a `Link` (or a sitemap index's child), resolved against the
   listing's URL. An entry that raises (a field of the wrong type, a link that is not a URL) is
   counted as invalid and costs only itself; an entry without a link is not an article.
"""

import time
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.contract import Discovery
from newsflow.errors import Reason, Rejected, rejected_as

SITEMAP_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)

# sy:updatePeriod (RSS 1.0's syndication module): the period sy:updateFrequency divides.
UPDATE_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}

# The links of a feed to its older entries: RFC 5005's paged feeds (next) and archived feeds (prev-archive).
OLDER_PAGES = ("next", "prev-archive")

Entry = TypeVar("Entry")
Read = TypeVar("Read")


@dataclass(frozen=True)
class Link:
    url: str
    discovery: Discovery


@dataclass
class Listing:
    """What one feed, sitemap or listing page gives."""

    url: str
    links: list[Link] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # a sitemap index's children, newest (lastmod) first
    sitemap_modified: dict[str, datetime] = field(default_factory=dict)  # the children's lastmod, where given
    older: list[str] = field(default_factory=list)  # a feed's pages of older entries (RFC 5005, JSON Feed next_url)
    update_interval: timedelta | None = None  # how often a feed says it changes at most: RSS ttl, sy:updatePeriod
    updated_at: datetime | None = None  # when a feed says it was last built: RSS lastBuildDate, Atom updated
    invalid_entries: int = 0
    first_invalid: Rejected | None = None  # why the first invalid entry was, for the log

    def read(self, entries: Iterable[Entry], read_entry: Callable[[Entry], Read | None]) -> list[Read]:
        """What `read_entry` gives for each entry that gives something; an entry it raises on is
        counted as invalid, and the entries after it are still read."""
        read = []
        for entry in entries:
            try:
                with rejected_as(Reason.INVALID_ENTRY, self.url):
                    value = read_entry(entry)
            except Rejected as exc:
                self.invalid_entries += 1
                self.first_invalid = self.first_invalid or exc
                continue
            if value is not None:
                read.append(value)
        return read


class JsonFeedAuthor(BaseModel):
    name: str | None = None


class JsonFeedItem(BaseModel):
    """The fields of a JSON Feed item (https://www.jsonfeed.org/version/1.1/) that ingest reads."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # the spec asks readers to take a numeric id as a string

    id: str | None = None
    url: str | None = None
    external_url: str | None = None
    title: str | None = None
    summary: str | None = None
    date_published: str | None = None
    date_modified: str | None = None
    language: str | None = None
    authors: list[JsonFeedAuthor] = []
    author: JsonFeedAuthor | None = None  # JSON Feed 1.0


class JsonFeed(BaseModel):
    version: str = Field(pattern=r"^https://jsonfeed\.org/version/")
    language: str | None = None
    next_url: str | None = None  # the page of older items, if the feed is paged
    items: list[Any] = []  # each validated on its own, so that a malformed item costs only itself


def parse_feed(body: bytes, listing_url: str, content_type: str = "") -> Listing:
    if "json" in content_type or body.lstrip()[:1] == b"{":
        return _parse_json_feed(body, listing_url)
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a feed ({parsed.get('bozo_exception', 'no feed element')})")
    language = _language(parsed.feed.get("language"))

    def link(entry: feedparser.FeedParserDict) -> Link | None:
        if not entry.get("link"):
            return None
        return Link(
            url=urljoin(listing_url, entry.link),
            discovery=Discovery(
                kind="feed",
                listing_url=listing_url,
                title=entry.get("title"),
                published_at=_from_struct(entry.get("published_parsed")),
                # dict.get: feedparser's own get() answers published_parsed when updated_parsed is absent
                modified_at=_from_struct(dict.get(entry, "updated_parsed")),
                authors=[author["name"] for author in entry.get("authors", []) if author.get("name")],
                summary=entry.get("summary"),
                language=language,
                entry_id=entry.get("id"),
            ),
        )

    found = Listing(listing_url)
    found.links = found.read(parsed.entries, link)
    found.older = [
        urljoin(listing_url, link["href"])
        for link in parsed.feed.get("links", [])
        if link.get("rel") in OLDER_PAGES and link.get("href")
    ]
    found.update_interval = _update_interval(parsed.feed)
    found.updated_at = _from_struct(dict.get(parsed.feed, "updated_parsed"))
    return found


def _parse_json_feed(body: bytes, listing_url: str) -> Listing:
    try:
        feed = JsonFeed.model_validate_json(body)  # pydantic's parser bounds nesting depth
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Rejected(
            Reason.INVALID_LISTING, f"{listing_url}: not a JSON Feed ({where + ': ' if where else ''}{first['msg']})"
        ) from None
    language = _language(feed.language)

    def link(value: Any) -> Link | None:
        item = JsonFeedItem.model_validate(value)
        url = item.url or item.external_url
        if not url:
            return None
        authors = item.authors or ([item.author] if item.author else [])
        return Link(
            url=urljoin(listing_url, url),
            discovery=Discovery(
                kind="feed",
                listing_url=listing_url,
                title=item.title,
                published_at=parse_date(item.date_published),
                modified_at=parse_date(item.date_modified),
                authors=[author.name for author in authors if author.name],
                summary=item.summary,
                language=_language(item.language) or language,
                entry_id=item.id,
            ),
        )

    found = Listing(listing_url)
    found.links = found.read(feed.items, link)
    found.older = [urljoin(listing_url, feed.next_url)] if feed.next_url else []
    return found


def parse_sitemap(body: bytes, listing_url: str, max_bytes: int) -> Listing:
    """Articles of a urlset (news extensions included), or the children of a sitemap index."""
    body = _gunzip(body, max_bytes) if body[:2] == b"\x1f\x8b" else body
    try:
        root = etree.fromstring(body, SITEMAP_XML)
    except etree.XMLSyntaxError as exc:
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a sitemap ({exc})") from None
    found = Listing(listing_url)
    if _local(root) == "sitemapindex":

        def child(entry: etree._Element) -> tuple[datetime | None, str] | None:
            loc = _text(entry, "./*[local-name()='loc']")
            return (parse_date(_text(entry, "./*[local-name()='lastmod']")), urljoin(listing_url, loc)) if loc else None

        children = found.read(root.xpath("./*[local-name()='sitemap']"), child)
        found.sitemaps = [url for _, url in sorted(children, key=lambda dated: newest_first(dated[0]))]
        found.sitemap_modified = {url: lastmod for lastmod, url in children if lastmod}
        return found
    if _local(root) != "urlset":
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a sitemap (root element <{_local(root)}>)")
    news = "./*[local-name()='news']"

    def link(entry: etree._Element) -> Link | None:
        loc = _text(entry, "./*[local-name()='loc']")
        if not loc:
            return None
        return Link(
            url=urljoin(listing_url, loc),
            discovery=Discovery(
                kind="sitemap",
                listing_url=listing_url,
                title=_text(entry, f"{news}/*[local-name()='title']"),
                published_at=parse_date(_text(entry, f"{news}/*[local-name()='publication_date']")),
                modified_at=parse_date(_text(entry, "./*[local-name()='lastmod']")),
                language=_language(_text(entry, f"{news}/*[local-name()='publication']/*[local-name()='language']")),
            ),
        )

    found.links = found.read(root.xpath("./*[local-name()='url']"), link)
    return found


def parse_listing(body: bytes, listing_url: str, link_selector: str) -> Listing:
    """Links of the elements `link_selector` selects: each an <a href>, or an element holding one."""
    try:
        root = lxml.html.document_fromstring(body, base_url=listing_url)
    except (etree.ParserError, ValueError) as exc:
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not an HTML page ({exc})") from None

    def link(element: lxml.html.HtmlElement) -> Link | None:
        anchor = element if element.get("href") else next(iter(element.cssselect("a[href]")), None)
        if anchor is None:
            return None
        title = " ".join(anchor.text_content().split()) or None
        return Link(
            url=urljoin(listing_url, anchor.get("href")),
            discovery=Discovery(kind="listing", listing_url=listing_url, title=title),
        )

    found = Listing(listing_url)
    found.links = found.read(root.cssselect(link_selector), link)
    return found


def newest_first(dated: datetime | None) -> tuple[bool, float]:
    """Sort key: the latest date first, undated after every dated one."""
    return (dated is None, -dated.timestamp() if dated else 0.0)


def parse_date(text: str | None) -> datetime | None:
    """An ISO 8601 date or time (as sitemaps and JSON Feed write them) in UTC; None if absent or bad."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _from_struct(value: time.struct_time | None) -> datetime | None:
    # feedparser normalizes every date it understands to a UTC struct_time.
    return datetime(*value[:6], tzinfo=UTC) if value else None


def _update_interval(feed: feedparser.FeedParserDict) -> timedelta | None:
    """The longer of what a feed announces: its RSS ttl (minutes it may be cached) and its
    sy:updatePeriod divided by sy:updateFrequency; None when it announces neither, or nonsense."""
    announced = []
    with suppress(TypeError, ValueError):
        if (ttl := int(feed.get("ttl", ""))) > 0:
            announced.append(timedelta(minutes=ttl))
    period = UPDATE_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    with suppress(TypeError, ValueError, ZeroDivisionError):
        if period and (frequency := int(feed.get("sy_updatefrequency") or 1)) > 0:
            announced.append(period / frequency)
    return max(announced, default=None)


def _language(value: object) -> str | None:
    # "en-US", "EN", "en_GB" → "en"
    return str(value).strip()[:2].lower() or None if value else None


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, max_bytes + 1)
    if len(inflated) > max_bytes:
        raise Rejected(Reason.TOO_LARGE, f"gzipped sitemap inflates beyond {max_bytes} bytes")
    return inflated


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _text(element: etree._Element, path: str) -> str | None:
    found = element.xpath(f"{path}/text()")
    return found[0].strip() if found else None
