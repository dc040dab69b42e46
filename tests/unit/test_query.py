"""The search body `search.query.search_body` builds, and the `next` cursor, without Elasticsearch."""

import base64
import json
from datetime import date

import pytest

from search.api import Hit
from search.index import KEY_NAME
from search.query import (
    MAX_COLLAPSED_OFFSET,
    BadCursor,
    BadSearch,
    SearchRequest,
    decode_cursor,
    encode_cursor,
    entity_names,
    entity_names_body,
    language_highlights,
    search_body,
    story_body,
    story_sizes_body,
)


def body(**request) -> dict:
    return search_body(SearchRequest(**request))


def bool_query(**request) -> dict:
    return body(**request)["query"]["bool"]


def token_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The query


def text_query(**request) -> dict:
    (clause,) = bool_query(**request)["must"]
    return clause["simple_query_string"]


def test_a_text_query_is_one_simple_query_string_over_the_text_fields_and_their_folded_forms():
    text = text_query(q="snow closes roads")
    assert text["query"] == "snow closes roads"
    assert {field.split("^")[0] for field in text["fields"]} == {
        "title",
        "lead",
        "body",
        "authors.text",
        "by_language.kk.title",
        "by_language.kk.body",
        "title.folded",
        "body.folded",
    }
    assert text["default_operator"] == "and"  # each word must match, as a word, a stem or a folded form, in some field


def test_the_title_weighs_more_than_the_body():
    fields = text_query(q="snow")["fields"]
    assert "title^3" in fields and "body" in fields


def test_a_folded_field_weighs_half_its_words():
    weights = {name: float(weight or 1) for name, _, weight in (field.partition("^") for field in text_query(q="snow")["fields"])}
    assert weights["title.folded"] == weights["title"] / 2 and weights["body.folded"] == weights["body"] / 2


def test_query_syntax_in_the_text_stays_a_value():
    q = 'title:x OR {"script": "boom"}'
    assert text_query(q=q)["query"] == q


@pytest.mark.parametrize("q", [None, "", "   "])
def test_no_text_lists_everything(q):
    query = bool_query(q=q)
    assert set(query) <= {"filter", "must_not"}  # no must: every document not filtered out matches
    assert query["filter"] == []


# Filters


def test_no_filters_by_default():
    assert bool_query()["filter"] == []


def test_sources_filter_on_source_id():
    assert {"terms": {"source_id": ["orda-kz-en", "tengri-ru"]}} in bool_query(sources=["orda-kz-en", "tengri-ru"])["filter"]


def test_languages_filter_on_language():
    assert bool_query(languages=["kk"])["filter"] == [{"terms": {"language": ["kk"]}}]


def test_authors_filter_on_exact_authors():
    assert bool_query(authors=["Aigerim Sadykova"])["filter"] == [{"terms": {"authors": ["Aigerim Sadykova"]}}]


def entity_filter(entity_type: str, key: str) -> dict:
    return {"term": {f"entity_keys.{entity_type}": key}}


def test_each_entity_asked_for_must_be_named_by_type_and_key():
    filters = bool_query(people=["ksm-jmrt-tkv", "shvkt-mrzv"], places=["almt"], organizations=["akrda"])["filter"]
    assert filters == [
        entity_filter("person", "ksm-jmrt-tkv"),
        entity_filter("person", "shvkt-mrzv"),
        entity_filter("place", "almt"),
        entity_filter("organization", "akrda"),
    ]


def test_an_entity_key_is_a_term_never_query_syntax():
    assert bool_query(people=['tkv" OR *'])["filter"] == [{"term": {"entity_keys.person": 'tkv" OR *'}}]


def test_entity_facets_count_the_keys_of_each_type_on_the_article():
    aggs = body()["aggs"]
    for facet, entity_type in (("people", "person"), ("places", "place"), ("organizations", "organization")):
        assert aggs[facet] == {"terms": {"field": f"entity_keys.{entity_type}", "size": 10}}


def test_a_keys_name_is_its_most_common_pair_among_the_articles_naming_it():
    search = entity_names_body({"person": ["tkv", "ksm-jmrt-tkv"], "place": ["almti"], "organization": []})
    assert search["size"] == 0
    assert search["query"] == {
        "bool": {
            "should": [{"terms": {"entity_keys.person": ["tkv", "ksm-jmrt-tkv"]}}, {"terms": {"entity_keys.place": ["almti"]}}]
        }
    }
    assert search["aggs"]["person.1"] == {
        "filter": {"term": {"entity_keys.person": "ksm-jmrt-tkv"}},
        # The key as a literal, then the separator: tkv's pattern never takes ksm-jmrt-tkv's pairs, nor the reverse.
        "aggs": {"name": {"terms": {"field": "entity_key_names.person", "include": f"ksm\\-jmrt\\-tkv{KEY_NAME}.*", "size": 1}}},
    }
    assert set(search["aggs"]) == {"person.0", "person.1", "place.0"}


def test_names_are_read_from_the_answer_and_a_key_no_article_names_is_its_own():
    keys = {"person": ["tkv", "nobody"], "place": ["almti"]}
    answer = {
        "aggregations": {
            "person.0": {"name": {"buckets": [{"key": f"tkv{KEY_NAME}Tokayev", "doc_count": 9}]}},
            "person.1": {"name": {"buckets": []}},
            "place.0": {"name": {"buckets": [{"key": f"almti{KEY_NAME}Алматы", "doc_count": 2}]}},
        }
    }
    assert entity_names(answer, keys) == {
        ("person", "tkv"): "Tokayev",
        ("person", "nobody"): "nobody",
        ("place", "almti"): "Алматы",
    }


def test_a_date_range_bounds_published_at_inclusively():
    filters = bool_query(published_from=date(2026, 11, 20), published_to=date(2026, 11, 22))["filter"]
    assert filters == [{"range": {"published_at": {"gte": "2026-11-20", "lte": "2026-11-22"}}}]


def test_a_range_open_at_the_end_has_only_its_start():
    assert bool_query(published_from=date(2026, 11, 20))["filter"] == [{"range": {"published_at": {"gte": "2026-11-20"}}}]


def test_a_range_open_at_the_start_has_only_its_end():
    assert bool_query(published_to=date(2026, 11, 22))["filter"] == [{"range": {"published_at": {"lte": "2026-11-22"}}}]


def test_filters_combine_and_apply_to_a_text_query_too():
    query = bool_query(q="snow", sources=["orda-kz-en"], languages=["en"], published_from=date(2026, 11, 20))
    assert len(query["filter"]) == 3
    assert {"terms": {"source_id": ["orda-kz-en"]}} in query["filter"]
    assert {"terms": {"language": ["en"]}} in query["filter"]


# Duplicates


def test_duplicates_are_hidden_by_default():
    assert bool_query()["must_not"] == [{"exists": {"field": "duplicate_of"}}]


def test_duplicates_true_shows_them():
    assert "must_not" not in bool_query(duplicates=True)


def test_duplicates_are_hidden_for_a_text_query_as_well():
    assert bool_query(q="snow")["must_not"] == [{"exists": {"field": "duplicate_of"}}]


# Stories


def test_collapse_gives_one_hit_per_story_among_all_articles():
    collapsed = body(q="snow", collapse=True)
    assert collapsed["collapse"] == {"field": "story_id"}
    assert "must_not" not in collapsed["query"]["bool"]  # a story is found through any of its articles, duplicates too
    assert collapsed["aggs"]["stories"] == {"cardinality": {"field": "story_id"}}
    assert "collapse" not in body(q="snow") and "stories" not in body(q="snow")["aggs"]


def test_a_collapsed_search_pages_by_offset():
    collapsed = body(collapse=True, search_after=encode_cursor([20]))
    assert collapsed["from"] == 20 and "search_after" not in collapsed


@pytest.mark.parametrize("values", [[0], [-10], [MAX_COLLAPSED_OFFSET + 1], [20, 1], ["20"], [2.5], [1.5, 1, 2]])
def test_a_collapsed_cursor_other_than_an_offset_is_a_bad_cursor(values):
    with pytest.raises(BadCursor, match="collapse=true"):
        body(collapse=True, search_after=encode_cursor(values))


def test_story_sizes_count_articles_and_publishers_of_the_pages_stories():
    sizes = story_sizes_body(["s1", "s2"])
    assert sizes["query"] == {"terms": {"story_id": ["s1", "s2"]}} and sizes["size"] == 0
    assert sizes["aggs"]["stories"]["terms"] == {"field": "story_id", "size": 2}
    assert sizes["aggs"]["stories"]["aggs"] == {"publishers": {"cardinality": {"field": "source_id"}}}


def test_a_story_lists_its_articles_earliest_first_with_a_total_order():
    story = story_body("s1", 100)
    assert story["query"] == {"term": {"story_id": "s1"}} and story["size"] == 100
    assert story["sort"][0] == {"published_at": {"order": "asc", "missing": "_last"}}
    assert story["sort"][-1] == {"article_number": "asc"} and "story_id" in story["_source"]


# Sort, size, pages


def test_relevance_sorts_by_score_then_newest_first_seen():
    sort = body(sort="relevance")["sort"]
    assert sort[0] == {"_score": "desc"} and sort[1] == {"first_seen_at": "desc"}


def test_relevance_is_the_default_sort():
    assert body()["sort"] == body(sort="relevance")["sort"]


def test_date_sorts_newest_published_first_undated_last():
    sort = body(sort="date")["sort"]
    assert sort[0] == {"published_at": {"order": "desc", "missing": "_last"}}
    assert sort[1] == {"first_seen_at": "desc"}


@pytest.mark.parametrize("order", ["relevance", "date"])
def test_each_sort_ends_with_a_unique_tie_breaker(order):
    assert body(sort=order)["sort"][-1] == {"article_number": "asc"}


def test_size_is_the_page_size():
    assert body()["size"] == 10
    assert body(size=37)["size"] == 37


def test_the_first_page_has_no_search_after():
    assert "search_after" not in body()


def test_search_after_is_the_decoded_cursor():
    values = [3.25, 1763625600000, 4242]
    assert body(search_after=encode_cursor(values))["search_after"] == values


def test_a_bad_cursor_makes_no_body():
    with pytest.raises(BadCursor):
        body(search_after="not-a-token")


def test_the_total_is_counted_exactly():
    assert body()["track_total_hits"] is True


def test_the_source_holds_every_field_a_hit_shows():
    shown = set(Hit.model_fields) - {"highlight", "story_size", "story_publishers"}  # the API counts those apart
    assert shown <= set(body()["_source"])
    assert "body" not in body()["_source"]  # the article's text is fetched whole only by /articles/{id}


# Facets and highlights


def test_facets_count_sources_languages_and_days():
    aggs = body()["aggs"]
    assert aggs["sources"]["terms"]["field"] == "source_id"
    assert aggs["languages"]["terms"]["field"] == "language"
    per_day = aggs["published_per_day"]["date_histogram"]
    assert per_day["field"] == "published_at" and per_day["calendar_interval"] == "day"
    assert per_day["min_doc_count"] == 1  # days without articles are not listed
    assert per_day["format"] == "yyyy-MM-dd"  # the day is the facet's value


def test_facets_are_requested_for_a_text_query_too():
    facets = {"sources", "languages", "published_per_day", "people", "places", "organizations"}
    assert set(body()["aggs"]) == set(body(q="snow")["aggs"]) == facets


def test_highlights_are_html_escaped_and_marked():
    highlight = body(q="snow")["highlight"]
    assert highlight["encoder"] == "html"
    assert highlight["pre_tags"] == ["<mark>"] and highlight["post_tags"] == ["</mark>"]


def test_the_title_is_highlighted_whole_and_the_body_in_fragments():
    fields = body(q="snow")["highlight"]["fields"]
    assert fields["title"]["number_of_fragments"] == 0
    assert fields["body"]["number_of_fragments"] >= 1 and fields["body"]["fragment_size"] > 0


def test_title_and_body_are_marked_where_their_words_their_stems_or_their_folded_forms_matched():
    highlight = body(q="Tokayev")["highlight"]
    assert highlight["fields"]["title"]["matched_fields"] == ["title", "title.folded"]
    assert highlight["fields"]["body"]["matched_fields"] == ["body", "body.folded"]
    assert highlight["fields"]["by_language.kk.title"]["matched_fields"] == ["by_language.kk.title", "title", "title.folded"]
    assert highlight["fields"]["by_language.kk.body"]["matched_fields"] == ["by_language.kk.body", "body", "body.folded"]
    assert {"title.folded", "body.folded"} <= {
        field.split("^")[0] for field in highlight["highlight_query"]["simple_query_string"]["fields"]
    }


def test_an_article_of_a_language_with_fields_of_its_own_is_marked_through_them():
    highlight = {"title": ["<mark>Шахта</mark>"], "by_language.kk.title": ["<mark>Шахтада</mark>"], "body": ["b"]}
    assert language_highlights(highlight) == {"title": ["<mark>Шахтада</mark>"], "body": ["b"]}
    assert language_highlights({"body": ["b"]}) == {"body": ["b"]}


# The cursor


@pytest.mark.parametrize(
    "values",
    [
        [12.5, 1763625600000, 4242],
        [9223372036854775807, 1763625600000, 1],  # an undated article's published_at, sorted last
        ["a-string", None, -3],
        [],
    ],
)
def test_a_cursor_round_trips(values):
    assert decode_cursor(encode_cursor(values)) == values


def test_a_cursor_is_url_safe_and_unpadded():
    token = encode_cursor([0.123456789, 1763625600000, 2**62, "~~~???>>>"])
    assert "=" not in token and "+" not in token and "/" not in token


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",  # base64 characters that do not decode to JSON
        "%%%%",  # no base64 characters at all
        "a",  # a base64 length no encoding has
        "Токаев",  # not ASCII
        "",
    ],
    ids=["not-json-base64", "not-base64", "bad-length", "not-ascii", "empty"],
)
def test_a_token_that_is_not_base64_json_is_a_bad_cursor(token):
    with pytest.raises(BadCursor):
        decode_cursor(token)


def test_base64_of_text_that_is_not_json_is_a_bad_cursor():
    with pytest.raises(BadCursor):
        decode_cursor(token_of(b"hello, world"))


def test_base64_of_bytes_that_are_not_utf8_is_a_bad_cursor():
    with pytest.raises(BadCursor):
        decode_cursor(token_of(b"\xff\xfe\xfd[1]"))


@pytest.mark.parametrize("document", ['{"page": 2}', '"abc"', "17", "null", "true"])
def test_json_that_is_not_a_list_is_a_bad_cursor(document):
    with pytest.raises(BadCursor):
        decode_cursor(token_of(document.encode()))


@pytest.mark.parametrize("document", ["[[1, 2], 3]", '[{"script": "x"}]', '[1, {"a": 1}]'])
def test_a_list_of_other_than_sort_values_is_a_bad_cursor(document):
    with pytest.raises(BadCursor):
        decode_cursor(token_of(document.encode()))


def test_a_bad_cursor_says_so_in_one_line():
    with pytest.raises(BadCursor) as raised:
        decode_cursor("not-a-token")
    assert str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_cursor_is_a_config_error():
    from newsflow.errors import ConfigError

    assert issubclass(BadCursor, ConfigError)


def test_a_list_of_booleans_is_a_bad_cursor():
    # bool is an int to isinstance; no sort of this API has a boolean value.
    with pytest.raises(BadCursor):
        decode_cursor(token_of(json.dumps([True, False, True]).encode()))


@pytest.mark.parametrize("document", ["[NaN, 1, 2]", "[Infinity, 1, 2]", "[-Infinity, 1, 2]", "[1e400, 1, 2]"])
def test_a_number_that_is_not_finite_is_a_bad_cursor(document):
    # Python's json reads NaN and Infinity, and 1e400 as an infinite float.
    with pytest.raises(BadCursor):
        decode_cursor(token_of(document.encode()))


@pytest.mark.parametrize("values", [[1], [1.5, 1763625600000, 7, 8], []], ids=["too-short", "too-long", "empty"])
@pytest.mark.parametrize("order", ["relevance", "date"])
def test_a_cursor_of_the_wrong_length_for_the_sort_is_a_bad_cursor(values, order):
    with pytest.raises(BadCursor):
        body(sort=order, search_after=encode_cursor(values))


@pytest.mark.parametrize(
    ("order", "values"),
    [
        ("relevance", ["high", 1763625600000, 7]),  # a score is a number
        ("relevance", [None, 1763625600000, 7]),
        ("relevance", [1.5, 1763625600000.5, 7]),  # dates sort as whole milliseconds
        ("relevance", [1.5, "2026-11-20", 7]),
        ("relevance", [1.5, 1763625600000, 2**63]),  # past a long
        ("relevance", [1.5, 1763625600000, -(2**63) - 1]),
        ("date", [1.5, 1763625600000, 7]),  # published_at is a date, not a score
        ("date", [None, 1763625600000, 7]),  # an undated article sorts as a long too
    ],
)
def test_a_cursor_whose_values_do_not_fit_the_sort_keys_is_a_bad_cursor(order, values):
    with pytest.raises(BadCursor) as raised:
        body(sort=order, search_after=encode_cursor(values))
    assert f"sort={order}" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("order", "values"),
    [
        ("relevance", [12.5, 1763625600000, 4242]),
        ("relevance", [3, 1763625600000, 4242]),  # a score that happens to be whole
        ("date", [1763625600000, 1763625600000, 1]),
        ("date", [9223372036854775807, 1763625600000, 1]),  # an undated article, sorted last
        ("date", [-9223372036854775808, 1763625600000, 2**60 - 1]),
    ],
)
def test_a_cursor_that_fits_the_sort_is_the_search_after(order, values):
    assert body(sort=order, search_after=encode_cursor(values))["search_after"] == values


# Cost bounds


def test_fuzzy_words_expand_to_a_bounded_number_of_terms():
    assert 0 < text_query(q="Tokaev~1")["fuzzy_max_expansions"] <= 50


@pytest.mark.parametrize("q", ["reform~2 Tokaev~ parl* const* amend~1", '"parliamentary reform"~3 Tokaev~ reform* a b c'])
def test_up_to_five_fuzzy_and_prefix_operators_are_searched(q):
    assert text_query(q=q)["query"] == q


@pytest.mark.parametrize(
    "q",
    [
        "|".join(f"w{n}ab~2" for n in range(60)),  # the outside review's query: 19.5 s on 5,000 articles
        "a* b* c* d* e* f*",
        "reform~ reform~ reform~ reform* reform* reform*",
    ],
    ids=["60-fuzzy", "6-prefix", "6-mixed"],
)
def test_more_than_five_fuzzy_and_prefix_operators_are_a_bad_search(q):
    with pytest.raises(BadSearch) as raised:
        body(q=q)
    assert str(raised.value) == "q may hold at most 5 fuzzy (~) and prefix (*) operators in all"


def test_a_bad_search_is_a_config_error_and_a_bad_cursor_is_one():
    from newsflow.errors import ConfigError

    assert issubclass(BadSearch, ConfigError) and issubclass(BadCursor, BadSearch)


def test_highlights_leave_fuzzy_words_out_and_keep_the_rest():
    # Marking a fuzzy word builds its automaton for every hit: seconds per page.
    highlighted = body(q='Tokaev~1 reform~ parl* "constitutional amendments"~2 -snow')["highlight"]["highlight_query"]
    text = highlighted["simple_query_string"]
    assert "FUZZY" not in text["flags"].split("|") and {"PREFIX", "PHRASE", "NEAR", "NOT"} <= set(text["flags"].split("|"))
    assert text["query"] == 'Tokaev reform parl* "constitutional amendments"~2 -snow'
    assert text["fields"] == text_query(q="x")["fields"]
    assert text["default_operator"] == "or"  # Elasticsearch marks only what matches the whole highlight query


def test_no_text_highlights_with_the_query_itself():
    assert "highlight_query" not in body()["highlight"]


def test_highlighting_reads_a_bounded_part_of_each_field():
    # Past the index's limit (1,000,000 characters) Elasticsearch refuses the whole search.
    assert 0 < body(q="snow")["highlight"]["max_analyzed_offset"] <= 1_000_000
