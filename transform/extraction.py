"""From an HTML page to its article: title, body, authors, site name and the page's own dates.

`extract` goes through these steps:

1. Parse the page once, with trafilatura's parser, and drop the blocks the source's site rules name.
2. Read its structured data: JSON-LD articles and <meta> tags (dates, authors, headline), the
   languages the page declares (`<html lang>`, Content-Language, og:locale, JSON-LD inLanguage),
   and trafilatura's title, author and site name.
3. Extract the main text with trafilatura, without comments, deciding per page how (_main_text;
   each pass reads the one parse of step 1):
   a. its precise pass (favor_precision) without its fallback extractors (readability, jusText);
   b. on a page that holds an article (a JSON-LD article, og:type article, an <article> element,
      or an element with 3 paragraphs or more) where that text is under CUT_SHARE of the page's
      text outside link blocks (what a pruned pass can return), the same pass with its fallbacks,
      kept when longer;
   c. if that is still under CUT_SHARE of the page, its recall-oriented pass (the defaults),
      taken when the precise text is under CUT_SHARE of it: the precise pass cut the article.
      When the precise passes find nothing, whatever the defaults find.
4. Prune the extracted body: <h1> headings (the headline, which is the title, not the body),
   blocks that are mostly link text on the page ("Related: …" lines, lists of other articles),
   and short notices (NOTICE: reprint and copyright lines, share bars, "related articles" headings).
5. Clean the text: Unicode NFC, whitespace, invisible characters (soft hyphens, zero-width
   spaces), the title repeated as first line, byline lines such as "Original Author: …" (their
   names become candidate authors). Site names longer than NAME_MAX_CHARS are dropped.
6. Read the dates as the page writes them (_page_dates): a time keeps its offset, a day stays a
   day (`date_only`, midnight in the zone of the page's other dates, else UTC); after the page's
   own, the URL's date, else, when the page's structured data gives none, htmldate's, looked for
   outside navigation, asides, footers and modification times. A page that writes none has none.

7. Take the authors from the first source that names a person (`names`): the page's own JSON-LD
   article (its first item naming an author; later ones are related-article widgets), <meta>
   authors, rel="author" links and itemprop="author" names, trafilatura's search of the page
   (run only when these name none), bylines. Refused everywhere: organisations, the publisher
   (og:site_name, JSON-LD publisher, the domain), names without a letter, over NAME_MAX_CHARS or
   NAME_MAX_WORDS; lists are split ("A, B and C") and desk handles ("(cog.)") dropped.

bench/extraction.py measures the result on bench/extraction-benchmark and bench/extraction-collected.
"""

import json
import re
import unicodedata
from collections.abc import Collection, Sequence
from contextlib import suppress
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from htmldate.extractors import extract_url_date
from htmldate.utils import Extractor
from lxml import etree
from trafilatura.metadata import (
    Document,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.xml import xmltotxt

from transform.contract import DateSource

ARTICLE_TYPES = {
    "Article",
    "NewsArticle",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "BlogPosting",
    "Report",
    "LiveBlogPosting",
}
PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "date",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "last-modified")
AUTHOR_META = ("author", "article:author", "dc.creator", "byl")
BYLINE = re.compile(
    r"^(?:original\s+)?(?:authors?|written by|by|автор|авторы|autor|autorin|auteur|par|por)\s*[:\-–—]?\s+(?P<names>.{3,120})$",
    re.IGNORECASE,
)
# Between names in a list: commas, semicolons, "and" in the languages of the sources and of the bench's pages.
NAME_SEPARATORS = re.compile(r"\s*(?:,|;|&|\b(?:and|und|et|og|och|ve|и|і)\b)\s*", re.IGNORECASE)
HANDLE = re.compile(r"\s*\([^()]{1,12}\)\s*$")  # "Corina Gall (cog.)": the desk's short form of the name
REL_AUTHORS = etree.XPath(
    '//a[@rel="author"] | //*[@itemprop="author"][not(*[@itemprop="name"])] | //*[@itemprop="author"]/*[@itemprop="name"]'
)
# A longer author or site name is a sentence or junk, not a name: dropped, never cut (a cut name
# is a wrong one, and a keyword term over 32,766 bytes would lose the whole article in the index).
NAME_MAX_CHARS = 80
# Characters that show nothing and split a word in two for search: soft hyphen, zero-width space,
# word joiner, byte-order mark (zero-width (non-)joiners stay: Persian and Indic spelling needs them).
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
NAME_MAX_WORDS = 6  # as for entities: a longer "name" is a job title or a sentence
PUNCTUATION = re.compile(r"[^\w\s]")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a date without a time
NOT_PUBLICATION_DATES = etree.XPath(
    "//nav | //aside | //footer | //form | //menu"
    " | //meta[contains(translate(@http-equiv | @name | @property | @itemprop, 'MODIFIEDUPDATE', 'modifiedupdate'), 'modified')"
    " or contains(translate(@http-equiv | @name | @property | @itemprop, 'MODIFIEDUPDATE', 'modifiedupdate'), 'update')]"
)
URL_DATES = Extractor(False, datetime(2200, 1, 1), datetime(1995, 1, 1), True, "%Y-%m-%d")
BLOCK_TAGS = (
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "div",
    "td",
    "th",
    "dd",
    "dt",
    "blockquote",
    "figcaption",
    "section",
    "article",
    "ul",
    "ol",
    "table",
    "tr",
)
LINK_LIST_SHARE = 0.8  # a block whose text is at least this much link text points elsewhere; 0.7-1.0 all did as well
# A pass cut the article when its text is under this share of a fuller one: the precise pass leaves
# 12 characters of a 3,807-character post, 142 of 1,180; a fuller pass that adds boilerplate adds
# less (on both corpora 1/5 and 1/4 decide alike, 1/3 takes boilerplate). Under this share of the
# page's whole text, a fuller pass could be worth running (it cannot return more than the page).
CUT_SHARE = 0.25
MIN_ARTICLE_PARAGRAPHS = 3  # an element with this many paragraphs holds an article's body, not a caption or a teaser
TEXT_CHARS = etree.XPath("string-length(normalize-space(.))")  # in C: a tenth of walking the text nodes
# What no pass extracts: code, and the page's navigation, footers, asides, forms and menus, which
# trafilatura's cleaning removes before it looks for the article.
UNREACHED = ("script", "style", "noscript", "template", "nav", "footer", "aside", "form", "menu")
# Lines that are about the page, not the article: reprint and copyright notices, share bars, the
# heading of a list of other articles. Only short lines are notices: an article may quote these words.
NOTICE = re.compile(
    r"(?:for your personal,? non-commercial use|all rights reserved|^(?:©|\(c\)|copyright\b)|^share (?:this|on)\b"
    r"|^(?:related|recommended|more) (?:articles|stories|news)\b|^read more\b|^(?:читайте также|смотрите также)\b"
    r"|^(?:関連記事|相关文章|相关阅读)|^(?:转载|未经授权))",
    re.IGNORECASE,
)
NOTICE_MAX_CHARS = 200
MAX_JSON_LD_CHARS = 1_000_000  # structured data is a few KB; a bigger script is skipped (a JSON-LD bomb)
MAX_JSON_LD_ITEMS = 1_000  # items looked at per script, @graph members included


@dataclass(frozen=True)
class PageDate:
    value: datetime  # aware, in the offset the page wrote
    source: DateSource
    date_only: bool = False  # the page gave a day: `value` is its midnight, in the page's zone if known


_Written = tuple[str, DateSource]  # a date as the page writes it, and where


@dataclass(frozen=True)
class Extracted:
    title: str
    body: str
    authors: list[str]
    site_name: str | None
    description: str | None
    declared_languages: list[str] = field(default_factory=list)  # as the page writes them, most specific first
    published: list[PageDate] = field(default_factory=list)  # candidates, most trusted first
    modified: list[PageDate] = field(default_factory=list)


def extract(html: str, url: str, drop_selectors: Sequence[str] = ()) -> Extracted:
    tree = _load(html)
    for selector in drop_selectors:
        for element in tree.cssselect(selector):
            element.drop_tree()
    structured = _json_ld_articles(tree)
    meta = _meta(tree)
    publishers = _publishers(structured, meta, url)
    structured_authors = next(
        filter(
            None, (names(found, publishers) for found in (_json_ld_authors(structured), _meta_authors(meta), _rel_authors(tree)))
        ),
        [],
    )
    page = _page_metadata(tree, find_author=not structured_authors)
    headlines = [item.get("headline") for item in structured if isinstance(item.get("headline"), str)]  # not a list, a number
    title = _clean_line(_first(*headlines, page.title) or "")
    body, byline_names = _clean_body(_main_text(tree, url, structured, meta), title)
    published = _dates(structured, meta, "datePublished", PUBLISHED_META)
    published += _url_or_htmldate(tree, url, page_dated=bool(published))
    modified = _dates(structured, meta, "dateModified", MODIFIED_META)
    zone = _page_zone(published + modified)
    authors = structured_authors or names([page.author] if page.author else [], publishers) or names(byline_names, publishers)
    return Extracted(
        title=title,
        body=body,
        authors=authors,
        site_name=_first(*filter(_is_name, (page.sitename, *meta.get("og:site_name", []))), _domain(url)),
        description=_first(*meta.get("description", []), *meta.get("og:description", [])),
        declared_languages=_declared_languages(tree, structured, meta),
        published=_page_dates(published, zone),
        modified=_page_dates(modified, zone),
    )


def _load(html: str) -> lxml.html.HtmlElement:
    # trafilatura's own parser leaves HTML comments out. Parsed by lxml's defaults they stay in the tree,
    # trafilatura deletes them and the text after each goes with it: "had suffered<!-- --> months of …"
    # (React writes such comments) became "had suffered".
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ValueError("not an HTML document")
    return tree


def _page_metadata(tree: lxml.html.HtmlElement, find_author: bool) -> Document:
    """Title, author and site name as trafilatura's metadata pass finds them, without the rest of
    that pass (its date search — the dates come from step 2 and one htmldate call —, categories,
    tags, licence: a fifth of the extraction time, thrown away). Its search of the page for an
    author runs only when `find_author`: JSON-LD and <meta> authors come first."""
    found = examine_meta(tree)
    if found.author and " " not in found.author:  # a handle, not a name (trafilatura's own rule)
        found.author = None
    with suppress(Exception):  # trafilatura's JSON-LD reader has its own bugs; it guards them the same way
        found = extract_meta_json(tree, found)
    found.title = found.title or extract_title(tree)
    found.author = found.author or (extract_author(tree) if find_author else None)
    found.sitename = (found.sitename or extract_sitename(tree) or "").lstrip("@") or None
    if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
        found.sitename = found.sitename.title()
    found.clean_and_trim()
    return found


def _link_blocks(tree: lxml.html.HtmlElement) -> tuple[set[str], int]:
    """The texts of the page's blocks that are mostly link text (teasers and lists of other pages),
    and the characters of those outside UNREACHED elements."""
    linked_chars: dict[lxml.html.HtmlElement, int] = {}
    texts: set[str] = set()
    for link in tree.iter("a"):
        chars = _visible_chars(link.text_content())
        if not chars:
            continue
        texts.update(_clean_line(block.text_content()) for block in link.iter(*BLOCK_TAGS))  # a teaser wrapped in a link
        holder = next(link.iterancestors(*BLOCK_TAGS), None)
        if holder is not None:
            linked_chars[holder] = linked_chars.get(holder, 0) + chars
    block_chars = 0
    for block, chars in linked_chars.items():
        text = block.text_content()
        if chars >= LINK_LIST_SHARE * (visible := _visible_chars(text)):
            texts.add(_clean_line(text))
            reached = block.tag not in UNREACHED and next(block.iterancestors(*UNREACHED), None) is None
            block_chars += visible if reached else 0  # _page_chars leaves out the unreached ones already
    return texts - {""}, block_chars


def _visible_chars(text: str) -> int:
    """len(_clean_line(text)) without its Unicode normalization, which lengths do not need."""
    return len(" ".join(text.split()))


def _main_text(tree: lxml.html.HtmlElement, url: str, structured: list[dict], meta: dict[str, list[str]]) -> str:
    """The article's text, decided per page (step 3), each pass's text pruned (step 4)."""
    link_blocks, link_block_chars = _link_blocks(tree)
    text = _extracted_text(tree, url, link_blocks, favor_precision=True, fast=True)
    if text and not _is_article(tree, structured, meta):
        return text
    # What a pass can return, pruned: the page's text outside the link blocks pruned from every pass.
    page_chars = _page_chars(tree) - link_block_chars
    for favor_precision in (True, False):
        if text and len(text) >= CUT_SHARE * page_chars:
            return text
        other = _extracted_text(tree, url, link_blocks, favor_precision=favor_precision, fast=False)
        if len(other) > len(text) and (favor_precision or not text or len(text) < CUT_SHARE * len(other)):
            text = other
    return text


def _extracted_text(tree: lxml.html.HtmlElement, url: str, link_blocks: set[str], favor_precision: bool, fast: bool) -> str:
    # bare_extraction works on a copy of `tree`: each pass reads the same parse.
    document = trafilatura.bare_extraction(tree, url=url, favor_precision=favor_precision, fast=fast, include_comments=False)
    main = document.body if isinstance(document, Document) else None  # as_dict=False: a Document, or None: no main text
    return _pruned_text(main, link_blocks) if main is not None else ""


def _is_article(tree: lxml.html.HtmlElement, structured: list[dict], meta: dict[str, list[str]]) -> bool:
    """The page says it holds an article (a JSON-LD article, og:type article, an <article> element),
    or shows one: an element with MIN_ARTICLE_PARAGRAPHS paragraphs or more."""
    if structured or "article" in meta.get("og:type", []) or next(tree.iter("article"), None) is not None:
        return True
    paragraphs: dict[lxml.html.HtmlElement | None, int] = {}
    for paragraph in tree.iter("p"):
        parent = paragraph.getparent()
        paragraphs[parent] = paragraphs.get(parent, 0) + 1
    return max(paragraphs.values(), default=0) >= MIN_ARTICLE_PARAGRAPHS


def _page_chars(tree: lxml.html.HtmlElement) -> int:
    """The characters of the page's text outside UNREACHED elements, whitespace runs counted once:
    about the most a pass can return."""
    body = tree.find("body")
    if body is None:
        return 0
    unreached = sum(
        int(TEXT_CHARS(element)) for element in body.iter(*UNREACHED) if next(element.iterancestors(*UNREACHED), None) is None
    )  # the outermost ones: an inner one's text is in its ancestor's
    return int(TEXT_CHARS(body)) - unreached


def _pruned_text(body: etree._Element, link_block_texts: set[str]) -> str:
    """trafilatura's extracted body as text, without its <h1> headline, the page's link blocks and
    notices (reprint and copyright lines, share bars, "related articles" headings)."""
    for element in list(body.iter("head", "p", "item")):
        headline = element.tag == "head" and element.get("rend") == "h1"
        text = _clean_line("".join(element.itertext()))
        if headline or text in link_block_texts or (len(text) <= NOTICE_MAX_CHARS and NOTICE.search(text)):
            element.clear(keep_tail=True)  # its tail is the text that follows it, not part of it
    return xmltotxt(body, include_formatting=False)


def _json_ld_articles(tree: lxml.html.HtmlElement) -> list[dict]:
    found = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        if len(script.text or "") > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's stack
            continue
        stack = data if isinstance(data, list) else [data]
        for _ in range(MAX_JSON_LD_ITEMS):
            if not stack:
                break
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
            kinds = item.get("@type", [])
            if set(kinds if isinstance(kinds, list) else [kinds]) & ARTICLE_TYPES:
                found.append(item)
    return found


def _json_ld_authors(structured: list[dict]) -> list[str]:
    """The people named by the page's first JSON-LD article that names an author: the page's own
    article (later items are related-article widgets). Organisations are publishers, not authors."""
    item = next((item for item in structured if item.get("author")), {})
    authors = item.get("author", [])
    authors = authors if isinstance(authors, list) else [authors]
    people = [a.get("name", "") if isinstance(a, dict) and a.get("@type") != "Organization" else a for a in authors]
    return [name for name in people if isinstance(name, str) and name]  # not {"@value": ...}, a number, a list


def _meta_authors(meta: dict[str, list[str]]) -> list[str]:
    return [name for key in AUTHOR_META for name in meta.get(key, []) if not name.startswith(("http://", "https://"))]


def _rel_authors(tree: lxml.html.HtmlElement) -> list[str]:
    """The names of the page's links to an author page (rel="author") and its itemprop="author" names."""
    return [_clean_line(element.text_content()) for element in REL_AUTHORS(tree)]


def _publishers(structured: list[dict], meta: dict[str, list[str]], url: str) -> set[str]:
    """The names of the site and its organisation, casefolded: what is never an author."""
    found = [*meta.get("og:site_name", []), *meta.get("application-name", [])]
    for item in structured:
        publisher = item.get("publisher")
        for organisation in publisher if isinstance(publisher, list) else [publisher]:
            if isinstance(organisation, dict) and isinstance(organisation.get("name"), str):
                found.append(organisation["name"])
    host = _domain(url)
    if host:
        found += [host, host.split(".")[0]]
    return {_folded_name(name) for name in found} - {""}


def _meta(tree: lxml.html.HtmlElement) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for element in tree.xpath("//meta[@content]"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        if key and element.get("content").strip():
            found.setdefault(key, []).append(element.get("content").strip())
    return found


def _declared_languages(tree: lxml.html.HtmlElement, structured: list[dict], meta: dict[str, list[str]]) -> list[str]:
    """The languages the page says it is in: `<html lang>`, `<meta http-equiv="Content-Language">`,
    `og:locale`, JSON-LD `inLanguage`; transform.language reads the codes."""
    root = tree.getroottree().getroot()
    content_language = tree.xpath(
        '//meta[translate(@http-equiv, "CONTENTLANGUAGE", "contentlanguage") = "content-language"]/@content'
    )
    return [
        *filter(None, (root.get("lang"), root.get("xml:lang"))),
        *content_language,
        *meta.get("og:locale", []),
        *(item["inLanguage"] for item in structured if isinstance(item.get("inLanguage"), str)),  # not {"@type": "Language"}
    ]


def _dates(structured: list[dict], meta: dict[str, list[str]], json_key: str, meta_keys: tuple[str, ...]) -> list[_Written]:
    written: list[_Written] = [(text, "json-ld") for item in structured if isinstance(text := item.get(json_key), str)]
    written += [(text, "meta") for key in meta_keys for text in meta.get(key, [])]
    return written


def _url_or_htmldate(tree: lxml.html.HtmlElement, url: str, page_dated: bool) -> list[_Written]:
    """The URL's date, else, on a page whose JSON-LD and <meta> give none (`page_dated`), htmldate's
    in the page without what dates other things than the article: its navigation, asides, footers,
    forms and menus (a related article's <time>, a generation time) and its modification metas.
    Both are days: htmldate answers in URL_DATES's format."""
    in_url = extract_url_date(url, URL_DATES)
    if in_url:
        return [(in_url, "url")]
    if page_dated:
        return []
    region = deepcopy(tree)
    for element in NOT_PUBLICATION_DATES(region):
        element.drop_tree()
    found = find_date(region, extensive_search=False, original_date=True)
    return [(found, "htmldate")] if found else []


def _page_dates(written: list[_Written], zone: tzinfo | None) -> list[PageDate]:
    """The dates the page writes, each as written: a time keeps its offset (the page's local day stays
    its day); a day is midnight in `zone`, else UTC, marked `date_only`; a time without an offset
    is in `zone`, else UTC. What does not parse is dropped."""
    found = []
    for text, source in written:
        moment = _parse(text)
        if moment is None:
            continue
        date_only = DAY.fullmatch(text.strip()) is not None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone or UTC)
        found.append(PageDate(moment, source, date_only))
    return found


def _page_zone(written: list[_Written]) -> tzinfo | None:
    """The offset of the first time the page writes with one: the zone its days are in."""
    return next((moment.tzinfo for text, _ in written if (moment := _parse(text)) and moment.tzinfo), None)


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")) if text.strip() else None
    except ValueError:
        return None


def _clean_body(text: str, title: str) -> tuple[str, list[str]]:
    lines = [_clean_line(line) for line in unicodedata.normalize("NFC", text).splitlines()]
    lines = [line for line in lines if line]
    if lines and title and lines[0].casefold() == title.casefold():
        lines = lines[1:]
    byline_names = []
    for edge in (0, -1):  # bylines stand at the start or the end of an article
        match = BYLINE.match(lines[edge]) if lines else None
        if match:
            byline_names += NAME_SEPARATORS.split(match["names"])
            del lines[edge]
    return "\n".join(lines), byline_names


def names(raw: list[str], publishers: Collection[str] = ()) -> list[str]:
    """Authors as people read them: "By " and the like removed, lists split ("A, B and C", "A; B"),
    a handle in brackets after a name removed, whitespace cleaned, each once; those over
    NAME_MAX_CHARS, without a letter, or naming a publisher (`publishers`, casefolded) dropped."""
    found: list[str] = []
    for text in raw:
        match = BYLINE.match(text.strip())
        for name in NAME_SEPARATORS.split(match["names"] if match else text):
            cleaned = _clean_line(HANDLE.sub("", name))
            if cleaned and cleaned not in found and _is_name(cleaned) and _is_person(cleaned, publishers):
                found.append(cleaned)
    return found


def _is_person(name: str, publishers: Collection[str]) -> bool:
    """Not a publisher (its name, in or around the name), not a sentence (over NAME_MAX_WORDS), not a number."""
    folded = _folded_name(name)
    return (
        any(character.isalpha() for character in name)
        and len(name.split()) <= NAME_MAX_WORDS
        and not any(
            folded == publisher or folded in publisher or (len(publisher) > 3 and publisher in folded) for publisher in publishers
        )
    )


def _folded_name(name: str) -> str:
    """Casefolded, punctuation as spaces: "ORF.at" and "orf at" are one name."""
    return " ".join(PUNCTUATION.sub(" ", name.casefold()).split())


def _is_name(text: str | None) -> bool:
    return text is not None and len(text) <= NAME_MAX_CHARS


def _clean_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).translate(INVISIBLE).split())


def _domain(url: str) -> str | None:
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)
