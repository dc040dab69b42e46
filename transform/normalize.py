"""A `RawArticle` from `news.raw` becomes a `NormalizedArticle`, or `Rejected` with a reason.

`normalize` goes through these steps:

1. Extract title, body, authors and the page's dates (transform.extraction), after dropping the
   blocks named by the source's site rules.
2. Refuse what is not an article: an empty body, or one shorter than the minimum word count
   (newsflow.text.word_count: words, or characters in scripts written without spaces).
3. Choose each date from the most trusted source that gives one — JSON-LD, <meta>, the feed or
   sitemap, the URL, htmldate — skipping dates in the future beyond a small clock skew. A date
   keeps the offset its source wrote and whether it was a day only (`date_only`): never moved to
   another day by a conversion.
4. Label the language (transform.language): the page's declared languages, the response's
   Content-Language, the feed's language and the source's configured one, weighed against what
   the detector reads in title and body.
5. Take the authors from the listing when the page names none, under the page's rules for names
   (transform.extraction.names: junk and names over NAME_MAX_CHARS dropped).
6. Derive the lead, the word count, the folded text and the duplicate signatures.
7. Name the people, places and organisations of title and body (transform.entities), each under
   its canonical key.

Every keyword field of the result thus fits its bound in the contract (docs/contracts.md, "Bounds").
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from ingest.contract import RawArticle
from newsflow.errors import Reason, Rejected
from newsflow.folding import fold
from newsflow.text import word_count as count_words
from transform.contract import DatedBy, DateSource, NormalizedArticle
from transform.entities import entities
from transform.extraction import PageDate, extract, names
from transform.language import label
from transform.signature import content_hash, near_duplicate_keys

DATE_PRECEDENCE = ("json-ld", "meta", "feed", "sitemap", "listing", "url", "htmldate")
CLOCK_SKEW = timedelta(hours=2)


def normalize(
    raw: RawArticle, now: datetime, min_words: int, drop_selectors: Sequence[str] = (), source_language: str | None = None
) -> NormalizedArticle:
    """`drop_selectors` and `source_language` are the site rules and the language of the source in the sources file."""
    try:
        page = extract(raw.html, raw.url, drop_selectors)
    except (ValueError, TypeError) as exc:  # lxml: empty documents, control characters, ...
        raise Rejected(Reason.UNPARSABLE_HTML, f"{raw.url}: {exc}") from None
    word_count = count_words(page.body)  # by script: Japanese, Chinese, Thai count characters
    if word_count == 0:
        raise Rejected(Reason.EMPTY_BODY, f"{raw.url}: no article text found")
    if word_count < min_words:
        raise Rejected(Reason.TOO_SHORT, f"{raw.url}: {word_count} words, fewer than {min_words}")
    discovery = raw.discovery
    published = page.published + _discovered(discovery.published_at, discovery.kind)
    modified = page.modified + _discovered(discovery.modified_at, discovery.kind)
    first_paragraph = page.body.split("\n", 1)[0]
    folded_body = fold(page.body)
    language = label(
        f"{page.title}\n{page.body}",
        word_count,
        [*page.declared_languages, raw.headers.get("content-language"), discovery.language, source_language],
    )
    title = page.title or discovery.title or ""
    return NormalizedArticle(
        article_id=raw.article_id,
        source_id=raw.source_id,
        url=raw.url,
        canonical_url=raw.canonical_url,
        site_name=page.site_name,
        title=title,
        authors=page.authors or names(discovery.authors),
        lead=first_paragraph if len(first_paragraph) >= 40 or not page.description else page.description,
        body=page.body,
        language=language,
        word_count=word_count,
        published_at=_choose(published, now),
        modified_at=_choose(modified, now),
        first_seen_at=raw.first_seen_at,
        fetched_at=raw.fetched_at,
        text_folded=f"{fold(page.title)} {folded_body}".strip(),
        content_hash=content_hash(page.body),
        near_duplicate_keys=near_duplicate_keys(folded_body),
        entities=entities(title, page.body, language),
    )


def _discovered(moment: datetime | None, kind: DateSource) -> list[PageDate]:
    return [PageDate(moment, kind)] if moment else []


def _choose(candidates: list[PageDate], now: datetime) -> DatedBy | None:
    plausible = [candidate for candidate in candidates if candidate.value <= now + CLOCK_SKEW]
    if not plausible:
        return None
    best = min(plausible, key=lambda candidate: DATE_PRECEDENCE.index(candidate.source))
    return DatedBy(value=best.value, source=best.source, date_only=best.date_only)
