"""What the search API answers when Elasticsearch times out, refuses or is overloaded, and what it
makes of a facet's buckets: against a fake Elasticsearch on loopback that answers as the real one
does (bodies copied from Elasticsearch 9).

A real search does not reliably outlast a time limit on a small index, so the time-out is
played here; tests/integration/test_api.py runs the rest against the real node."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from newsflow.settings import Settings
from search.api import TIMED_OUT, UNAVAILABLE, create_app

TIMEOUT = {  # allow_partial_search_results=false and a query phase past `timeout`
    "error": {
        "root_cause": [{"type": "search_timeout_exception", "reason": "Time exceeded", "timed_out": True}],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "phase": "query",
        "grouped": True,
        "failed_shards": [
            {"shard": 0, "index": "news-000001", "reason": {"type": "search_timeout_exception", "reason": "Time exceeded"}}
        ],
    },
    "status": 429,
}
REFUSED = {
    "error": {
        "root_cause": [{"type": "illegal_argument_exception", "reason": "search_after has 1 value(s) but sort has 3."}],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
    },
    "status": 400,
}
REJECTED = {  # a full search thread pool
    "error": {
        "root_cause": [{"type": "es_rejected_execution_exception", "reason": "rejected execution of TimedRunnable"}],
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of TimedRunnable",
    },
    "status": 429,
}


class FakeElasticsearch(BaseHTTPRequestHandler):
    """Answers every search with `answer`, keeping the query parameters and the body it was sent."""

    answer: ClassVar[dict] = {}
    received: ClassVar[list[tuple[dict, dict]]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.received.append((parse_qs(urlsplit(self.path).query), body))
        payload = json.dumps(self.answer).encode()
        self.send_response(self.answer["status"])
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElasticsearch)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeElasticsearch.received = []
    settings = Settings(elasticsearch_url=f"http://127.0.0.1:{server.server_port}", search_timeout=1.5)
    with TestClient(create_app(settings)) as client:
        yield client, FakeElasticsearch
    server.shutdown()
    server.server_close()


def test_a_search_is_sent_with_the_time_limit_and_no_partial_results(api):
    client, fake = api
    fake.answer = TIMEOUT
    client.get("/search", params={"q": "reform"})
    ((parameters, body),) = fake.received
    assert body["timeout"] == "1500ms" and parameters["allow_partial_search_results"] == ["false"]


FOUND_A_PERSON = {  # no hits; a person in the facet, whose name the API then looks up
    "took": 1,
    "timed_out": False,
    "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
    "aggregations": {"people": {"buckets": [{"key": "tkv", "doc_count": 1}]}},
    "status": 200,
}


@pytest.mark.parametrize(
    ("path", "answer", "searches"), [("/search", FOUND_A_PERSON, 2), ("/stories/abc", TIMEOUT, 1)], ids=["names", "story"]
)
def test_every_search_of_the_api_has_the_time_limit_and_no_partial_results(api, path, answer, searches):
    # A partial answer would name a facet's keys by themselves for as long as the names are kept.
    client, fake = api
    fake.answer = answer
    client.get(path)
    assert len(fake.received) == searches
    for parameters, body in fake.received:
        assert body["timeout"] == "1500ms" and parameters["allow_partial_search_results"] == ["false"]


COUNTED = {  # buckets as Elasticsearch 9 answers them: a day's with its key in epoch milliseconds, formatted
    "took": 1,
    "timed_out": False,
    "hits": {"total": {"value": 3, "relation": "eq"}, "hits": []},
    "aggregations": {
        "sources": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [{"key": "orda", "doc_count": 3}]},
        "languages": {"buckets": [{"key": "ru", "doc_count": 2}, {"key": "kk", "doc_count": 1}]},
        "published_per_day": {"buckets": [{"key_as_string": "2026-11-30", "key": 1764460800000, "doc_count": 3}]},
    },
    "status": 200,
}


def test_a_facets_buckets_are_their_values_and_counts(api):
    client, fake = api
    fake.answer = COUNTED
    facets = client.get("/search").json()["facets"]
    assert facets == {
        "sources": [{"value": "orda", "count": 3}],
        "languages": [{"value": "ru", "count": 2}, {"value": "kk", "count": 1}],
        "published_per_day": [{"value": "2026-11-30", "count": 3}],
        "people": [],
        "places": [],
        "organizations": [],
    }


def test_a_search_past_its_time_limit_is_504_with_a_generic_message(api):
    client, fake = api
    fake.answer = TIMEOUT
    answer = client.get("/search", params={"q": "reform~ parl* const*"})
    assert answer.status_code == 504 and answer.json() == {"detail": TIMED_OUT}


def test_a_search_elasticsearch_refuses_is_422_with_its_reason(api):
    client, fake = api
    fake.answer = REFUSED
    answer = client.get("/search", params={"q": "reform"})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "Elasticsearch refused this search: search_after has 1 value(s) but sort has 3."}


@pytest.mark.parametrize("answer", [REJECTED, {"error": "unavailable", "status": 503}], ids=["rejected", "503"])
def test_an_overloaded_elasticsearch_is_a_generic_503(api, answer):
    client, fake = api
    fake.answer = answer
    response = client.get("/search", params={"q": "reform"})
    assert response.status_code == 503 and response.json() == {"detail": UNAVAILABLE}
