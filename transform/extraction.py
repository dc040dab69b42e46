"""From an HTML page to its article: title, body, authors, site name and the page's own dates.

`extract` goes through these steps:

1. Parse the page once (lxml) and drop the blocks the source's site rules name.
2. Read its structured data: JSON-LD articles and <meta> tags (dates, authors, headline).
3. Extract the main text and metadata with trafilatura, favouring precision, without comments
   (the settings that score best on shared/extraction-benchmark: F1 0.975 against 0.965 by default).
4. Clean the body: Unicode NFC, whitespace, the title repeated as first line, byline lines such as
   "Original Author: …" (their names become authors).
"""

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lxml.html
import trafilatura
from htmldate import find_date
from htmldate.extractors import extract_url_date
from htmldate.utils import Extractor
from lxml import etree

from transform.contract import DateSource

ARTICLE_TYPES = {"Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
                 "BackgroundNewsArticle", "BlogPosting", "Report", "LiveBlogPosting"}
PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished", "pubdate",
                  "publishdate", "publish-date", "dc.date.issued", "dcterms.issued", "dc.date", "date")
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "last-modified")
AUTHOR_META = ("author", "article:author", "dc.creator", "byl")
BYLINE = re.compile(r"^(?:original\s+)?(?:authors?|written by|by|автор|авторы)\s*[:\-–—]?\s+(?P<names>.{3,120})$", re.IGNORECASE)
NAME_SEPARATORS = re.compile(r"\s*(?:,|;|\band\b|&|\bи\b)\s*")
URL_DATES = Extractor(False, datetime(2200, 1, 1), datetime(1995, 1, 1), True, "%Y-%m-%d")


@dataclass(frozen=True)
class PageDate:
    value: datetime
    source: DateSource


@dataclass(frozen=True)
class Extracted:
    title: str
    body: str
    authors: list[str]
    site_name: str | None
    description: str | None
    published: list[PageDate] = field(default_factory=list)  # candidates, most trusted first
    modified: list[PageDate] = field(default_factory=list)


def extract(html: str, url: str, drop_selectors: list[str] = ()) -> Extracted:
    tree = lxml.html.document_fromstring(html)
    for selector in drop_selectors:
        for element in tree.cssselect(selector):
            element.drop_tree()
    structured = _json_ld_articles(tree)
    meta = _meta(tree)
    document = trafilatura.bare_extraction(
        tree, url=url, favor_precision=True, include_comments=False, with_metadata=True, date_extraction_params={"extensive_search": False, "original_date": True},
    )
    title = _clean_line(_first(*(item.get("headline") for item in structured), document.title if document else None) or "")
    text = document.text if document and document.text else ""
    body, byline_names = _clean_body(text, title)
    authors = _names(
        [name for item in structured for name in _json_ld_authors(item)]
        or [name for key in AUTHOR_META for name in meta.get(key, [])]
        or ([document.author] if document and document.author else [])
        or byline_names
    )
    return Extracted(
        title=title,
        body=body,
        authors=authors,
        site_name=_first(document.sitename if document else None, *meta.get("og:site_name", [])),
        description=_first(*meta.get("description", []), *meta.get("og:description", [])),
        published=_dates(structured, meta, "datePublished", PUBLISHED_META) + _url_or_htmldate(tree, url),
        modified=_dates(structured, meta, "dateModified", MODIFIED_META),
    )


def _json_ld_articles(tree: etree._Element) -> list[dict]:
    found = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
            kinds = item.get("@type", [])
            if set(kinds if isinstance(kinds, list) else [kinds]) & ARTICLE_TYPES:
                found.append(item)
    return found


def _json_ld_authors(item: dict) -> list[str]:
    authors = item.get("author", [])
    authors = authors if isinstance(authors, list) else [authors]
    return [a.get("name", "") if isinstance(a, dict) else str(a) for a in authors]


def _meta(tree: etree._Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for element in tree.xpath("//meta[@content]"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        if key and element.get("content").strip():
            found.setdefault(key, []).append(element.get("content").strip())
    return found


def _dates(structured: list[dict], meta: dict[str, list[str]], json_key: str, meta_keys: tuple[str, ...]) -> list[PageDate]:
    candidates = [PageDate(moment, "json-ld") for item in structured if (moment := _parse(item.get(json_key)))]
    candidates += [PageDate(moment, "meta") for key in meta_keys for text in meta.get(key, []) if (moment := _parse(text))]
    return candidates


def _url_or_htmldate(tree: etree._Element, url: str) -> list[PageDate]:
    in_url = _parse(extract_url_date(url, URL_DATES))
    if in_url:
        return [PageDate(in_url, "url")]
    found = _parse(find_date(tree, extensive_search=False, original_date=True))
    return [PageDate(found, "htmldate")] if found else []


def _parse(text: object) -> datetime | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clean_body(text: str, title: str) -> tuple[str, list[str]]:
    lines = [_clean_line(line) for line in unicodedata.normalize("NFC", text).splitlines()]
    lines = [line for line in lines if line]
    if lines and title and lines[0].casefold() == title.casefold():
        lines = lines[1:]
    names = []
    for edge in (0, -1):  # bylines stand at the start or the end of an article
        match = BYLINE.match(lines[edge]) if lines else None
        if match:
            names += NAME_SEPARATORS.split(match["names"])
            del lines[edge]
    return "\n".join(lines), names


def _names(raw: list[str]) -> list[str]:
    names = []
    for name in raw:
        match = BYLINE.match(name.strip())
        cleaned = _clean_line(match["names"] if match else name)
        if cleaned and cleaned not in names and len(cleaned) <= 80:
            names.append(cleaned)
    return names


def _clean_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)
