"""Find article links in feeds (RSS, Atom, JSON Feed), sitemaps (incl. news sitemaps) and listings.

Parsing only: bodies arrive already fetched. XML is parsed without DTDs, entities or network.
"""

import json
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml import etree

from ingest.contract import Discovery
from newsflow.errors import Reason, Rejected

SITEMAP_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class Link:
    url: str
    discovery: Discovery


@dataclass(frozen=True)
class SitemapLinks:
    articles: list[Link]
    sitemaps: list[str]  # children of a sitemap index


def parse_feed(body: bytes, listing_url: str, content_type: str = "") -> list[Link]:
    if "json" in content_type or body.lstrip()[:1] == b"{":
        return _parse_json_feed(body, listing_url)
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a feed ({parsed.get('bozo_exception', 'no feed element')})")
    language = _language(parsed.feed.get("language"))
    links = []
    for entry in parsed.entries:
        if not entry.get("link"):
            continue
        links.append(
            Link(
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
        )
    return links


def _parse_json_feed(body: bytes, listing_url: str) -> list[Link]:
    try:
        feed = json.loads(body)
        if not str(feed.get("version", "")).startswith("https://jsonfeed.org/version/"):
            raise ValueError("no JSON Feed version")
        items = list(feed.get("items", []))
    except (ValueError, AttributeError, TypeError) as exc:
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a JSON Feed ({exc})") from None
    language = _language(feed.get("language"))
    links = []
    for item in items:
        if not isinstance(item, dict) or not (item.get("url") or item.get("external_url")):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        links.append(
            Link(
                url=urljoin(listing_url, item.get("url") or item["external_url"]),
                discovery=Discovery(
                    kind="feed",
                    listing_url=listing_url,
                    title=item.get("title"),
                    published_at=parse_date(item.get("date_published")),
                    modified_at=parse_date(item.get("date_modified")),
                    authors=[author["name"] for author in authors if isinstance(author, dict) and author.get("name")],
                    summary=item.get("summary"),
                    language=_language(item.get("language")) or language,
                    entry_id=str(item["id"]) if item.get("id") is not None else None,
                ),
            )
        )
    return links


def parse_sitemap(body: bytes, listing_url: str, max_bytes: int) -> SitemapLinks:
    """Articles of a urlset (news extensions included), or the children of a sitemap index."""
    body = _gunzip(body, max_bytes) if body[:2] == b"\x1f\x8b" else body
    try:
        root = etree.fromstring(body, SITEMAP_XML)
    except etree.XMLSyntaxError as exc:
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a sitemap ({exc})") from None
    if _local(root) == "sitemapindex":
        return SitemapLinks(
            [], [urljoin(listing_url, loc) for loc in root.xpath("./*[local-name()='sitemap']/*[local-name()='loc']/text()")]
        )
    if _local(root) != "urlset":
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not a sitemap (root element <{_local(root)}>)")
    links = []
    for entry in root.xpath("./*[local-name()='url']"):
        loc = _text(entry, "./*[local-name()='loc']")
        if not loc:
            continue
        news = "./*[local-name()='news']"
        links.append(
            Link(
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
        )
    return SitemapLinks(links, [])


def parse_listing(body: bytes, listing_url: str, link_selector: str) -> list[Link]:
    """Links of the elements `link_selector` selects: each an <a href>, or an element holding one."""
    try:
        root = lxml.html.document_fromstring(body, base_url=listing_url)
    except (etree.ParserError, ValueError) as exc:
        raise Rejected(Reason.INVALID_LISTING, f"{listing_url}: not an HTML page ({exc})") from None
    links = []
    for element in root.cssselect(link_selector):
        anchor = element if element.get("href") else next(iter(element.cssselect("a[href]")), None)
        if anchor is None:
            continue
        title = " ".join(anchor.text_content().split()) or None
        links.append(
            Link(
                url=urljoin(listing_url, anchor.get("href")),
                discovery=Discovery(kind="listing", listing_url=listing_url, title=title),
            )
        )
    return links


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
