import json
import socket
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from newsflow.errors import ConfigError, NewsflowError, ServiceUnreachable
from newsflow.ops.cli import app
from newsflow.ops.quality import MAPPING as QUALITY_MAPPING
from newsflow.settings import Settings
from search.index import MAPPING
from search.kibana import for_alias, saved_objects, setup

OBJECTS = saved_objects()
RECORDS = "___records___"  # Lens's name for "count documents", not a field of the index


def fields_used(node: object) -> set[str]:
    """The field names a saved object's attributes name, nested JSON strings included."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= fields_used(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("JSON"):  # panelsJSON, searchSourceJSON, ...: JSON in a string
                found |= fields_used(json.loads(value))
            elif key in ("sourceField", "timeFieldName"):
                found.add(value)
            elif key == "columns" and isinstance(value, list):  # a saved search's; Lens's is a dict
                found.update(value)
            elif key == "sort":
                found.update(field for field, _direction in value)
            else:
                found |= fields_used(value)
    return found


def test_every_line_is_a_saved_object():
    assert OBJECTS
    for item in OBJECTS:
        assert {"id", "type", "attributes"} <= item.keys()
    assert len({(item["type"], item["id"]) for item in OBJECTS}) == len(OBJECTS)


def test_every_reference_is_in_the_file():
    present = {(item["type"], item["id"]) for item in OBJECTS}
    for item in OBJECTS:
        for reference in item.get("references", []):
            assert (reference["type"], reference["id"]) in present, (item["id"], reference)


def test_every_panel_and_lens_layer_has_its_reference():
    for item in OBJECTS:
        names = {reference["name"] for reference in item.get("references", [])}
        if item["type"] == "dashboard":
            for panel in json.loads(item["attributes"]["panelsJSON"]):
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
        if item["type"] == "lens":
            for layer in item["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]:
                assert f"indexpattern-datasource-layer-{layer}" in names


def test_dashboard_shows_the_six_panels():
    (dashboard,) = [item for item in OBJECTS if item["type"] == "dashboard"]
    titles = {item["id"]: item["attributes"]["title"] for item in OBJECTS}
    assert sorted(titles[reference["id"]] for reference in dashboard["references"]) == [
        "Articles over time by source",
        "Latest articles",
        "Reject rate by source",
        "Source quality",
        "Top people over time",
        "Top sources",
    ]


def test_top_people_over_time_counts_articles_by_person_name_and_publication_date():
    (lens,) = [item for item in OBJECTS if item["id"] == "newsflow-top-people-over-time"]
    columns = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["people"]["columns"]
    assert {column["operationType"]: column["sourceField"] for column in columns.values()} == {
        "terms": "people",  # display names: the entities themselves are not indexed
        "date_histogram": "published_at",
        "count": RECORDS,
    }
    assert MAPPING["properties"]["people"] == {"type": "keyword"}


def data_view_of(item: dict) -> str:
    """The id of the data view a chart or search reads (a data view is its own)."""
    if item["type"] == "index-pattern":
        return item["id"]
    (view,) = {reference["id"] for reference in item["references"] if reference["type"] == "index-pattern"}
    return view


@pytest.mark.parametrize(
    ("view", "mapping", "some"),
    [
        ("newsflow-news", MAPPING, {"published_at", "source_id", "title", "url", "first_seen_at"}),
        ("newsflow-news-quality", QUALITY_MAPPING, {"measured_at", "reject_rate", "source_id", "alerts"}),
    ],
)
def test_every_field_used_is_in_the_mapping_of_its_data_view(view, mapping, some):
    objects = [item for item in OBJECTS if item["type"] != "dashboard" and data_view_of(item) == view]
    used = set().union(*(fields_used(item["attributes"]) for item in objects)) - {RECORDS}
    assert some <= used  # the walk finds them
    assert used - mapping["properties"].keys() == set()


def test_the_data_views_follow_the_alias_and_the_quality_index():
    views = [json.loads(line) for line in for_alias("headlines", "headlines-health").decode().splitlines()]
    titles = {item["id"]: item["attributes"]["title"] for item in views if item["type"] == "index-pattern"}
    assert titles == {"newsflow-news": "headlines", "newsflow-news-quality": "headlines-health"}


def test_the_data_views_are_the_alias_and_the_quality_index():
    views = {item["id"]: item["attributes"] for item in OBJECTS if item["type"] == "index-pattern"}
    settings = Settings()
    assert (views["newsflow-news"]["title"], views["newsflow-news"]["timeFieldName"]) == (settings.index_alias, "published_at")
    assert (views["newsflow-news-quality"]["title"], views["newsflow-news-quality"]["timeFieldName"]) == (
        settings.quality_index,
        "measured_at",
    )


def test_closed_port_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServiceUnreachable) as error:
        setup(f"http://127.0.0.1:{port}", None, None)
    assert "\n" not in str(error.value) and f"127.0.0.1:{port}" in str(error.value)


class FakeKibana(BaseHTTPRequestHandler):
    """Answers an import with `answer`, keeping what it was sent."""

    answer: ClassVar[dict] = {}
    received: ClassVar[list[tuple[str, dict, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        payload = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def kibana():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKibana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeKibana.received = []
    yield f"http://127.0.0.1:{server.server_port}", FakeKibana
    server.shutdown()
    server.server_close()


def test_import_posts_the_file_with_overwrite(kibana):
    url, fake = kibana
    fake.answer = {"success": True, "successCount": len(OBJECTS), "successResults": []}
    assert setup(url, "elastic", "secret", space="ops")["success"] is True
    ((path, headers, body),) = fake.received
    assert path == "/s/ops/api/saved_objects/_import?overwrite=true"
    assert headers["kbn-xsrf"] == "true" and headers["Authorization"].startswith("Basic ")
    form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body)
    (part,) = form.iter_parts()
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename().endswith(".ndjson")
    assert [json.loads(line) for line in part.get_payload(decode=True).splitlines()] == OBJECTS


def test_import_errors_are_one_line(kibana):
    url, fake = kibana
    fake.answer = {
        "success": False,
        "successCount": 4,
        "errors": [{"id": "newsflow", "type": "dashboard", "error": {"type": "missing_references", "references": []}}],
    }
    with pytest.raises(NewsflowError) as error:
        setup(url, None, None)
    assert not isinstance(error.value, ServiceUnreachable)
    assert str(error.value) == (f"Kibana at {url} did not import every saved object: dashboard newsflow: missing_references")


class Recorder:
    """Stands in for httpx.post: keeps each call and answers as Kibana does to a good import."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, url: str, **kwargs) -> httpx.Response:
        self.calls.append(url)
        return httpx.Response(200, json={"success": True, "successCount": len(OBJECTS)}, request=httpx.Request("POST", url))


@pytest.fixture
def post(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(httpx, "post", recorder)
    return recorder


@pytest.mark.parametrize(
    "url",
    ["http://kibana.example:5601", "http://10.0.0.5:5601", "http://[2001:db8::1]:5601", "http://127.0.0.1.nip.io:5601"],
)
def test_a_password_is_not_sent_over_plain_http_to_a_kibana_off_loopback(post, url):
    with pytest.raises(ConfigError) as refused:
        setup(url, "elastic", "s3cret")
    message = str(refused.value)
    assert message == (
        f"refusing to send the password of elastic to Kibana at {url} over plain http: use an https URL, "
        "or set NEWSFLOW_KIBANA_ALLOW_HTTP_CREDENTIALS=true if the network to it is trusted"
    )
    assert "s3cret" not in message and post.calls == []


def test_the_setting_lets_newsflow_kibana_setup_send_a_password_over_plain_http(post, monkeypatch):
    for name, value in {"URL": "http://kibana:5601", "ALLOW_HTTP_CREDENTIALS": "true"}.items():
        monkeypatch.setenv(f"NEWSFLOW_KIBANA_{name}", value)
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_PASSWORD", "s3cret")
    result = CliRunner().invoke(app, ["kibana", "setup"])
    assert result.exit_code == 0, result.output
    assert post.calls == ["http://kibana:5601/api/saved_objects/_import"]


def test_the_caller_can_allow_it_too(post):
    setup("http://kibana:5601", "elastic", "s3cret", allow_http_credentials=True)
    assert len(post.calls) == 1


@pytest.mark.parametrize(
    ("url", "username"),
    [
        ("https://kibana.example:5601", "elastic"),  # encrypted
        ("http://127.0.0.1:5601", "elastic"),  # loopback
        ("http://127.0.0.2:5601", "elastic"),
        ("http://[::1]:5601", "elastic"),
        ("http://localhost:5601", "elastic"),
        ("http://kibana.localhost:5601", "elastic"),
        ("http://kibana.example:5601", None),  # nothing secret to send
    ],
)
def test_a_password_goes_over_https_or_to_loopback_and_none_goes_anywhere(post, url, username):
    setup(url, username, "s3cret" if username else None)
    assert len(post.calls) == 1
