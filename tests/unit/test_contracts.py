"""The topic contracts refuse what must not reach a reader or the index: URLs that are not absolute
http(s), and keyword values over their bounds, as a `schema_violation` of the stage reading them."""

import json

import pytest

from ingest.contract import RawArticle
from newsflow.deadletters import read_record
from newsflow.errors import Reason, Rejected
from tests.articles import SEED, article, raw_article
from transform.contract import NormalizedArticle

GOOD = "https://orda.kz/en/news/story"
NOT_WEB_URLS = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",  # browsers drop the tab
    " javascript:alert(1)",  # and leading spaces
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "http:javascript:alert(1)",  # no host
    "https:///news/1",
    "//evil.example/news/1",  # scheme-relative
    "/news/1",
    "https://orda.kz/en/news/\nstory",
    "https://orda.kz/" + "a" * 8000,
]
RAW_URLS = ["url", "canonical_url", "discovery.listing_url"]
ARTICLE_URLS = ["url", "canonical_url"]


def with_value(document: dict, path: str, value: object) -> bytes:
    *parents, name = path.split(".")
    inner = document
    for parent in parents:
        inner = inner[parent]
    inner[name] = value
    return json.dumps(document).encode()


def raw_record(path: str, value: object) -> bytes:
    return with_value(raw_article(1, SEED).model_dump(mode="json"), path, value)


def article_record(path: str, value: object) -> bytes:
    return with_value(article(1, SEED).model_dump(mode="json"), path, value)


def refusal(contract, value: bytes) -> Rejected:
    with pytest.raises(Rejected) as refused:
        read_record(contract, value)
    return refused.value


@pytest.mark.parametrize("url", NOT_WEB_URLS)
@pytest.mark.parametrize("field", RAW_URLS)
def test_a_raw_article_takes_only_absolute_http_urls(field, url):
    error = refusal(RawArticle, raw_record(field, url))
    assert error.reason == Reason.SCHEMA_VIOLATION and field in str(error)


@pytest.mark.parametrize("url", NOT_WEB_URLS)
@pytest.mark.parametrize("field", ARTICLE_URLS)
def test_a_normalized_article_takes_only_absolute_http_urls(field, url):
    error = refusal(NormalizedArticle, article_record(field, url))
    assert error.reason == Reason.SCHEMA_VIOLATION and field in str(error)


@pytest.mark.parametrize(
    "url", [GOOD, "HTTP://Orda.kz/en/news/story?id=1#top", "http://127.0.0.1:8080/a%20b", "https://пример.рф/новости"]
)
def test_http_and_https_urls_are_taken(url):
    assert read_record(RawArticle, raw_record("url", url)).url == url
    assert read_record(NormalizedArticle, article_record("canonical_url", url)).canonical_url == url


@pytest.mark.parametrize(("field", "value"), [("source_id", "s" * 8001), ("article_id", "x" * 64)])
def test_what_a_raw_article_passes_on_is_bounded_for_transform(field, value):
    error = refusal(RawArticle, raw_record(field, value))
    assert error.reason == Reason.SCHEMA_VIOLATION and field in str(error)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("authors", ["Nikita Drobny", "ы" * 8001]),
        ("site_name", "S" * 8001),
        ("source_id", "s" * 8001),
        ("language", "e" * 8001),
        ("near_duplicate_keys", ["k" * 8001]),
        ("article_id", "not-a-sha256"),
        ("content_hash", "A" * 64),
    ],
)
def test_keyword_values_over_their_bound_are_a_schema_violation_for_the_indexer(field, value):
    error = refusal(NormalizedArticle, article_record(field, value))
    assert error.reason == Reason.SCHEMA_VIOLATION and field in str(error)
