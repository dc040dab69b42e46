"""Search requests built as structures: user input is a value in the query, never query syntax.

`search_body` builds the Elasticsearch search of a `SearchRequest` in these steps:

1. Filters (sources, languages, authors, publication dates; people, places and organisations by
   their keys, each of which an article must name) and, unless asked for, no near-duplicates; or,
   collapsed by story, every article but one hit per story (`story_id`): the story's best match,
   whichever of its articles that is.
2. The text: one `simple_query_string` (whose operators are safe: they never raise and never
   reach other fields) over title, lead, body and authors, whose words and stems are indexed
   (search/index.py), and over the folded forms of title and body (`title.folded`, `body.folded`:
   folded by Elasticsearch as `newsflow.folding` folds, so that Tokayev, Токаев and Toqayev find
   one another), and over the stems of the languages with fields of their own
   (`by_language.kk.title`: Kazakh's). Each word of the text must match in one of them, in whichever way it can: in
   "Tokayev parliamentary reforms" the seed matches Toqayev folded and reform by its stem. An
   article scores the sum of its fields' matches, so an exact word (which matches as a word and
   as its stem, and folded) ranks above its stem alone, and a stem above a folded form alone (at
   half the weight of its words).
3. The highlights: title and body, each marked where its words, stems or folded forms matched
   (`matched_fields`), HTML-escaped but for the marks; an article of a language with fields of its
   own is marked through them, and `language_highlights` makes those its title's and body's.
4. Its cost, bounded: at most `MAX_EXPANDING_OPERATORS` fuzzy (`~`) and prefix (`*`) operators in
   all, each fuzzy word standing for at most `FUZZY_MAX_EXPANSIONS` terms of the index; the
   highlights leave fuzzy words out, since marking them meant building their automata for every
   hit and field (60 fuzzy words took seconds per page, while finding the matches took 0.2 s); and
   no field is analysed past `HIGHLIGHT_MAX_ANALYZED_CHARS` for highlighting. The API adds the
   time limit, NEWSFLOW_SEARCH_TIMEOUT.
5. The facets: sources, languages, days, and the people, places and organisations most named, each
   with its key and its number of articles, counted on the article's own fields (`entity_keys.<type>`,
   which the filters of step 1 match too); `entity_names_body` finds a key's most common name
   (search.names keeps it).
6. The sort, total thanks to its last key, and the page after a `search_after` token, which must
   fit that sort: one value per key, of the key's type (a finite score, 64-bit integers for dates
   and article numbers). Any other token is a `BadCursor`, never a request Elasticsearch refuses.
   Elasticsearch collapses only with search_after on the collapse field alone, so a collapsed
   search pages by offset: its token holds the number of hits before the page, up to
   `MAX_COLLAPSED_OFFSET`.

`story_sizes_body` builds the search for the size and publishers of a page's stories, `story_body`
the search for a story's articles.
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from newsflow.errors import ConfigError
from search.index import KEY_NAME, LANGUAGE_ANALYZERS

TEXT_FIELDS = ["title^3", "lead^2", "body", "authors.text^2"]
# The stems of the languages with fields of their own (search/index.py's LANGUAGE_ANALYZERS), below the
# words, which are in title and body too, and above the folded forms.
LANGUAGE_FIELDS = [
    f"by_language.{code}.{name}^{weight}" for code in LANGUAGE_ANALYZERS for name, weight in (("title", 2), ("body", 0.75))
]
# Title and body folded as newsflow.folding folds them (search/index.py), at half the weight of their
# words: a name's other spellings count, below the words and their stems.
FOLDED_FIELDS = ["title.folded^1.5", "body.folded^0.5"]
MAX_EXPANDING_OPERATORS = 5
FUZZY_MAX_EXPANSIONS = 20  # Elasticsearch's default is 50
HIGHLIGHT_MAX_ANALYZED_CHARS = 100_000  # ~15,000 words; over the index's limit (1,000,000) a search fails
# Every operator of simple_query_string but FUZZY; `~N` after a word is also taken out of the
# text (FUZZINESS), or N would be highlighted as a word.
HIGHLIGHT_FLAGS = "AND|ESCAPE|NEAR|NOT|OR|PHRASE|PRECEDENCE|PREFIX|WHITESPACE"
FUZZINESS = re.compile(r'(?<!")~[0-9]*')  # after a closing quote, ~N is a phrase's slop: kept
HIGHLIGHTED = {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}}
HIGHLIGHT = {
    "encoder": "html",  # the page inserts highlights as HTML: everything but the tags is escaped
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "max_analyzed_offset": HIGHLIGHT_MAX_ANALYZED_CHARS,
    # Each marked where its words, their stems or their folded forms matched. The highlighter analyses
    # a field's text with every analyzer of its matched fields: a language's stems are marked through
    # that language's own fields, which only its articles fill, so that an English body is never run
    # through the Kazakh stemmer (it doubled a search's time); `language_highlights` folds them back.
    "fields": {
        **{name: {**options, "matched_fields": [name, f"{name}.folded"]} for name, options in HIGHLIGHTED.items()},
        **{
            f"by_language.{code}.{name}": {**options, "matched_fields": [f"by_language.{code}.{name}", name, f"{name}.folded"]}
            for code in LANGUAGE_ANALYZERS
            for name, options in HIGHLIGHTED.items()
        },
    },
}
SORTS: dict[str, list[dict]] = {  # the last key makes the order total, for search_after
    "relevance": [{"_score": "desc"}, {"first_seen_at": "desc"}, {"article_number": "asc"}],
    "date": [{"published_at": {"order": "desc", "missing": "_last"}}, {"first_seen_at": "desc"}, {"article_number": "asc"}],
}
INT64 = range(-(2**63), 2**63)  # dates sort as epoch milliseconds, article numbers are longs
MAX_COLLAPSED_OFFSET = 9_900  # from + size stay within index.max_result_window (10,000) for a page of 100
# A story's first, then its articles by publication and first sight; undated last.
STORY_SORT = [{"published_at": {"order": "asc", "missing": "_last"}}, {"first_seen_at": "asc"}, {"article_number": "asc"}]
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
    "entities",
    "story_id",
]
ENTITY_FACETS = {"people": "person", "places": "place", "organizations": "organization"}  # facet: entity type
FACET_OF = {entity_type: facet for facet, entity_type in ENTITY_FACETS.items()}
ENTITY_FACET_SIZE = 10


class BadSearch(ConfigError):
    """A search request the API refuses (HTTP 422), with a one-line message saying why."""


class BadCursor(BadSearch):
    """A search_after token that this API did not hand out."""


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    sources: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # entity keys
    places: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    published_from: date | None = None
    published_to: date | None = None
    duplicates: bool = False
    collapse: bool = False  # one hit per story, duplicates included: `duplicates` is then moot
    sort: Literal["relevance", "date"] = "relevance"
    size: int = 10
    search_after: str | None = None


def search_body(request: SearchRequest) -> dict:
    """The body of the Elasticsearch search for `request`; `BadSearch` if it is refused."""
    filters: list[dict] = []
    for name, values in (("source_id", request.sources), ("language", request.languages), ("authors", request.authors)):
        if values:
            filters.append({"terms": {name: values}})
    for entity_type, keys in (("person", request.people), ("place", request.places), ("organization", request.organizations)):
        filters += [_names(entity_type, key) for key in keys]
    if request.published_from or request.published_to:
        bounds = {
            "gte": request.published_from.isoformat() if request.published_from else None,
            "lte": request.published_to.isoformat() if request.published_to else None,
        }
        filters.append({"range": {"published_at": {key: value for key, value in bounds.items() if value}}})
    query: dict = {"bool": {"filter": filters}}
    if not (request.duplicates or request.collapse):
        query["bool"]["must_not"] = [{"exists": {"field": "duplicate_of"}}]
    highlight: dict = HIGHLIGHT
    if request.q and request.q.strip():
        if sum(request.q.count(operator) for operator in "~*") > MAX_EXPANDING_OPERATORS:
            raise BadSearch(f"q may hold at most {MAX_EXPANDING_OPERATORS} fuzzy (~) and prefix (*) operators in all")
        text = {"query": request.q, "fields": TEXT_FIELDS + LANGUAGE_FIELDS + FOLDED_FIELDS, "default_operator": "and"}
        query["bool"]["must"] = [{"simple_query_string": {**text, "fuzzy_max_expansions": FUZZY_MAX_EXPANSIONS}}]
        # Any of its words is marked: Elasticsearch marks only what matches the whole query, and
        # without its fuzzy operators the text may not match at all.
        without_fuzziness = {**text, "query": FUZZINESS.sub("", request.q), "flags": HIGHLIGHT_FLAGS, "default_operator": "or"}
        highlight = {**HIGHLIGHT, "highlight_query": {"simple_query_string": without_fuzziness}}
    sort = SORTS[request.sort]
    body: dict[str, Any] = {
        "query": query,
        "size": request.size,
        "sort": sort,
        "track_total_hits": True,
        "_source": RESULT_FIELDS,
        "highlight": highlight,
        "aggs": {
            "sources": {"terms": {"field": "source_id", "size": 20}},
            "languages": {"terms": {"field": "language", "size": 20}},
            "published_per_day": {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": "day",
                    "min_doc_count": 1,
                    "format": "yyyy-MM-dd",
                }
            },
            **{
                name: aggregation
                for entity_type in ENTITY_FACETS.values()
                for name, aggregation in _most_named(entity_type).items()
            },
        },
    }
    if request.collapse:
        body["collapse"] = {"field": "story_id"}
        body["aggs"]["stories"] = {"cardinality": {"field": "story_id"}}
    if request.search_after:
        values = decode_cursor(request.search_after)
        if request.collapse:
            if len(values) != 1 or not isinstance(values[0], int) or not 0 < values[0] <= MAX_COLLAPSED_OFFSET:
                raise BadCursor("search_after is not a token this API handed out for collapse=true")
            body["from"] = values[0]
        elif len(values) != len(sort) or not all(_fits(value, key) for value, key in zip(values, sort, strict=True)):
            raise BadCursor(f"search_after is not a token this API handed out for sort={request.sort}")
        else:
            body["search_after"] = values
    return body


def _names(entity_type: str, key: str) -> dict:
    """The filter of articles that name the entity of `entity_type` and `key`."""
    return {"term": {f"entity_keys.{entity_type}": key}}


def _most_named(entity_type: str) -> dict:
    """The aggregation of the keys of the entities of `entity_type` most named (search.names names them)."""
    return {FACET_OF[entity_type]: {"terms": {"field": f"entity_keys.{entity_type}", "size": ENTITY_FACET_SIZE}}}


def entity_names_body(keys: dict[str, list[str]]) -> dict:
    """The search for the most common name of each of `keys` (by entity type) over the articles that
    name it: of each key, the most common of its key–name pairs (`entity_key_names`, which hold one
    pair per key of an article) among its articles."""
    aggregations = {}
    for entity_type, of_type in keys.items():
        for n, key in enumerate(of_type):
            pairs = {"field": f"entity_key_names.{entity_type}", "include": f"{_literal(key)}{KEY_NAME}.*", "size": 1}
            aggregations[f"{entity_type}.{n}"] = {
                "filter": {"term": {f"entity_keys.{entity_type}": key}},
                "aggs": {"name": {"terms": pairs}},
            }
    wanted = [{"terms": {f"entity_keys.{entity_type}": of_type}} for entity_type, of_type in keys.items() if of_type]
    return {"size": 0, "query": {"bool": {"should": wanted}}, "aggs": aggregations}


def entity_names(answer: dict, keys: dict[str, list[str]]) -> dict[tuple[str, str], str]:
    """The name of each of `keys` in the answer to `entity_names_body(keys)`, by (type, key); a key
    that no article names any more is its own name."""
    aggregations = answer.get("aggregations", {})
    names = {}
    for entity_type, of_type in keys.items():
        for n, key in enumerate(of_type):
            buckets = aggregations.get(f"{entity_type}.{n}", {}).get("name", {}).get("buckets", [])
            names[(entity_type, key)] = buckets[0]["key"].partition(KEY_NAME)[2] if buckets else key
    return names


def _literal(text: str) -> str:
    """`text` as a Lucene regular expression that matches it alone."""
    return "".join(char if char.isalnum() else f"\\{char}" for char in text)


def story_sizes_body(story_ids: list[str]) -> dict:
    """The search for how many articles, and of how many publishers (sources), each story has."""
    publishers = {"cardinality": {"field": "source_id"}}
    return {
        "size": 0,
        "query": {"terms": {"story_id": story_ids}},
        "aggs": {"stories": {"terms": {"field": "story_id", "size": len(story_ids)}, "aggs": {"publishers": publishers}}},
    }


def story_body(story_id: str, size: int) -> dict:
    """The search for a story's articles, earliest first."""
    fields = [name for name in RESULT_FIELDS if name not in ("lead", "entities")]  # what a story lists
    return {
        "query": {"term": {"story_id": story_id}},
        "size": size,
        "sort": STORY_SORT,
        "track_total_hits": True,
        "_source": fields,
    }


def language_highlights(highlight: dict[str, list[str]]) -> dict[str, list[str]]:
    """A hit's highlights by `title` and `body`: those of its language's fields (which mark its words,
    stems and folded forms alike) in place of the others."""
    marked = {name: fragments for name, fragments in highlight.items() if not name.startswith("by_language.")}
    for name, fragments in highlight.items():
        if name.startswith("by_language."):
            marked[name.rsplit(".", 1)[1]] = fragments
    return marked


def encode_cursor(sort_values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list:
    """The sort values of a token: a JSON list of strings, finite numbers and nulls, or `BadCursor`."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), parse_constant=_no_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError):  # json's errors are ValueErrors
        raise BadCursor("search_after is not a token this API handed out") from None
    if not isinstance(values, list) or not all(_is_sort_value(value) for value in values):
        raise BadCursor("search_after is not a token this API handed out")
    return values


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is no sort value")  # NaN, Infinity and -Infinity, which json accepts


def _is_sort_value(value: object) -> bool:
    # bool is an int to isinstance; 1e400 is read as an infinite float.
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, (str, int)) and not isinstance(value, bool))


def _fits(value: object, key: dict) -> bool:
    """Whether `value`, a value `decode_cursor` let through, is one Elasticsearch hands out for the sort key `key`."""
    if "_score" in key:
        return isinstance(value, (int, float))
    return isinstance(value, int) and value in INT64
