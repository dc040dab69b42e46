"""Search requests built as structures: user input is a value in the query, never query syntax.

The text query runs twice: `simple_query_string` over title, lead, body and authors (whose
operators are safe: they never raise and never reach other fields), and a `match` over
`text_folded` with the query folded by the function that folded the articles (`newsflow.folding`), so that Tokayev, Токаев and
Toqayev find one another.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from newsflow.errors import ConfigError
from newsflow.folding import fold

TEXT_FIELDS = ["title^3", "lead^2", "body", "authors.text^2"]
HIGHLIGHT = {
    "encoder": "html",  # the page inserts highlights as HTML: everything but the tags is escaped
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "fields": {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}},
}
SORTS = {  # the last key makes the order total, for search_after
    "relevance": [{"_score": "desc"}, {"first_seen_at": "desc"}, {"article_number": "asc"}],
    "date": [{"published_at": {"order": "desc", "missing": "_last"}}, {"first_seen_at": "desc"}, {"article_number": "asc"}],
}
RESULT_FIELDS = [
    "article_id",
    "title",
    "url",
    "source_id",
    "site_name",
    "language",
    "authors",
    "lead",
    "published_at",
    "first_seen_at",
    "duplicate_of",
]


class BadCursor(ConfigError):
    """A search_after token that this API did not hand out."""


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    sources: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    published_from: date | None = None
    published_to: date | None = None
    duplicates: bool = False
    sort: Literal["relevance", "date"] = "relevance"
    size: int = 10
    search_after: str | None = None


def search_body(request: SearchRequest) -> dict:
    """The body of the Elasticsearch search for `request`."""
    filters: list[dict] = []
    for name, values in (("source_id", request.sources), ("language", request.languages), ("authors", request.authors)):
        if values:
            filters.append({"terms": {name: values}})
    if request.published_from or request.published_to:
        bounds = {
            "gte": request.published_from.isoformat() if request.published_from else None,
            "lte": request.published_to.isoformat() if request.published_to else None,
        }
        filters.append({"range": {"published_at": {key: value for key, value in bounds.items() if value}}})
    query: dict = {"bool": {"filter": filters}}
    if not request.duplicates:
        query["bool"]["must_not"] = [{"exists": {"field": "duplicate_of"}}]
    if request.q and request.q.strip():
        query["bool"]["should"] = [
            {"simple_query_string": {"query": request.q, "fields": TEXT_FIELDS, "default_operator": "and"}},
            {"match": {"text_folded": {"query": fold(request.q), "operator": "and", "boost": 0.5}}},
        ]
        query["bool"]["minimum_should_match"] = 1
    body = {
        "query": query,
        "size": request.size,
        "sort": SORTS[request.sort],
        "track_total_hits": True,
        "_source": RESULT_FIELDS,
        "highlight": HIGHLIGHT,
        "aggs": {
            "sources": {"terms": {"field": "source_id", "size": 20}},
            "languages": {"terms": {"field": "language", "size": 20}},
            "published_per_day": {"date_histogram": {"field": "published_at", "calendar_interval": "day", "min_doc_count": 1}},
        },
    }
    if request.search_after:
        body["search_after"] = decode_cursor(request.search_after)
    return body


def encode_cursor(sort_values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("search_after is not a token this API handed out") from None
    if not isinstance(values, list) or not all(isinstance(value, (str, int, float)) or value is None for value in values):
        raise BadCursor("search_after is not a token this API handed out")
    return values
