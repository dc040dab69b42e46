"""Ingest against a local news site and the real Kafka: through Airflow (`dag.test()`) and the CLI.

The site has RSS, Atom, a news sitemap and a listing page; article pages including the seed
article; ETag/304; a robots.txt disallow; a redirect; a page that fails with 500 then succeeds;
an oversized page; a PDF; a 404; an invalid feed; and a link to a private address.
"""

import os
import uuid
from pathlib import Path

import pytest
import yaml

from ingest.contract import RawArticle
from newsflow.clients import kafka_admin
from newsflow.dagrun import DagRun, airflow_env, run_once
from newsflow.deadletters import DeadLetter
from newsflow.ops.demo.site import NewsSite, Response, article_page, atom, news_sitemap, rss, seed_article_page
from newsflow.settings import Settings, load_settings
from newsflow.urls import article_id, canonical_url
from tests.helpers import read_topic, run_newsflow

pytestmark = pytest.mark.integration

MAX_BYTES = 64 * 1024
PRIVATE_URL = "http://10.255.255.1/internal/report"  # refused before any connection is tried


def build_site(site: NewsSite) -> None:
    page = lambda title: Response(article_page(title, [f"{title}: the first paragraph.", "A second paragraph."]))  # noqa: E731
    site.routes.update(
        {
            "/robots.txt": Response(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/news/toqayev-parliamentary-reform": Response(seed_article_page()),
            "/news/second": page("Second story"),
            "/private/secret": page("Secret"),
            "/old-path": Response(b"", status=301, headers={"Location": "/news/redirected"}),
            "/news/redirected": page("Moved story"),
            "/news/flaky": Response(article_page("Flaky", ["Works the second time."]), fail_first=1),
            "/news/huge": Response(article_page("Huge", ["x" * 100] * 1000)),
            "/files/report.pdf": Response(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
            "/news/atom-one": page("Atom story"),
            "/news/sitemap-one": page("Sitemap story"),
            "/news/sitemap-ru": Response(article_page("Токаев подписал закон", ["Текст новости."])),
            "/news/listing-one": page("Listing story"),
        }
    )
    seed = site.url("/news/toqayev-parliamentary-reform")
    site.routes["/feed.xml"] = Response(
        rss(
            "Orda.kz test",
            [
                {
                    "title": "Toqayev: Parliamentary Reform",
                    "link": seed + "?utm_source=rss&utm_medium=feed",
                    "author": "Nikita Drobny",
                    "date": "Mon, 03 Nov 2025 09:00:00 +0500",
                },
                {"title": "Same story again", "link": seed + "#comments"},
                {"title": "Second", "link": site.url("/news/second")},
                {"title": "Secret", "link": site.url("/private/secret")},
                {"title": "Moved", "link": site.url("/old-path")},
                {"title": "Flaky", "link": site.url("/news/flaky")},
                {"title": "Huge", "link": site.url("/news/huge")},
                {"title": "Report", "link": site.url("/files/report.pdf")},
                {"title": "Gone", "link": site.url("/news/gone")},
                {"title": "Internal", "link": PRIVATE_URL},
            ],
        ),
        "application/rss+xml",
    )
    site.routes["/atom.xml"] = Response(
        atom(
            "Atom test",
            [
                {"title": "Atom story", "link": site.url("/news/atom-one"), "updated": "2026-11-01T10:00:00Z"},
                {"title": "Second", "link": site.url("/news/second"), "updated": "2026-11-01T09:00:00Z"},
            ],
        ),
        "application/atom+xml",
    )
    site.routes["/sitemap-news.xml"] = Response(
        news_sitemap(
            [
                {"loc": site.url("/news/sitemap-one"), "date": "2026-11-02T08:00:00+05:00", "title": "Sitemap story"},
                {"loc": site.url("/news/sitemap-ru"), "date": "2026-11-02T09:00:00+05:00", "title": "Токаев", "language": "ru"},
            ]
        ),
        "application/xml",
    )
    site.routes["/broken.xml"] = Response(b"<html><body>Not a feed at all", "application/rss+xml")
    site.routes["/headlines"] = Response(
        b'<html><body><ul class="headlines"><li><a href="/news/listing-one">Listing story</a></li></ul></body></html>'
    )


def write_sources(site: NewsSite, path: Path) -> None:
    local = {"allow_networks": ["127.0.0.0/8"], "requests_per_second": 50, "language": "en"}
    path.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"id": "test-rss", "name": "RSS", "kind": "feed", "urls": [site.url("/feed.xml")], **local},
                    {"id": "test-atom", "name": "Atom", "kind": "feed", "urls": [site.url("/atom.xml")], **local},
                    {
                        "id": "test-sitemap",
                        "name": "Sitemap",
                        "kind": "sitemap",
                        "urls": [site.url("/sitemap-news.xml")],
                        **local,
                    },
                    {"id": "test-broken", "name": "Broken", "kind": "feed", "urls": [site.url("/broken.xml")], **local},
                    {
                        "id": "test-listing",
                        "name": "Listing",
                        "kind": "listing",
                        "urls": [site.url("/headlines")],
                        "link_selector": "ul.headlines a",
                        **local,
                    },
                ]
            }
        )
    )


@pytest.fixture
def site():
    with NewsSite() as site:
        build_site(site)
        yield site


@pytest.fixture
def ingest_env(local_services: Settings, site: NewsSite, tmp_path: Path, monkeypatch):
    """Environment of an ingest run: own state dir, sources file and topics; also set in os.environ."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    write_sources(site, tmp_path / "sources.yaml")
    variables = {
        "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
        "NEWSFLOW_FETCH_MAX_BYTES": str(MAX_BYTES),
        "NEWSFLOW_FETCH_RETRY_BACKOFF": "0.01",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    yield {**os.environ, **variables}
    admin = kafka_admin(local_services)
    admin.delete_topics([f"{prefix}.raw", f"{prefix}.articles", f"{prefix}.dlq"])
    admin.close()


def expected_ids(site: NewsSite, *paths: str) -> set[str]:
    return {article_id(canonical_url(site.url(path))) for path in paths}


PUBLISHED = (
    "/news/toqayev-parliamentary-reform",
    "/news/second",
    "/old-path",
    "/news/flaky",
    "/news/atom-one",
    "/news/sitemap-one",
    "/news/sitemap-ru",
    "/news/listing-one",
)
DEAD_LETTERS = {
    "/private/secret": "robots_disallowed",
    "/news/huge": "too_large",
    "/files/report.pdf": "wrong_content_type",
    "/news/gone": "http_status",
}


def run_dag(env: dict[str, str], airflow_home: Path) -> DagRun:
    return run_once("news_ingest", airflow_env(airflow_home, env), airflow_home / "dagrun.log", {"only_due": False})


def test_the_dag_publishes_each_article_once_and_dead_letters_each_failure_with_its_reason(ingest_env, site, airflow_home):
    settings = load_settings()
    first = run_dag(ingest_env, airflow_home)
    summaries = {summary["source_id"]: summary for summary in first.returns["ingest"]}
    assert summaries["test-rss"]["discovered"] == 9  # 10 entries, one a duplicate of the seed's URL
    assert summaries["test-rss"]["skipped"] == {
        "robots_disallowed": 1,
        "too_large": 1,
        "wrong_content_type": 1,
        "http_status": 1,
        "ssrf_refused": 1,
    }
    assert summaries["test-broken"]["skipped"] == {"invalid_listing": 1}
    # /news/second is in the RSS and the Atom feed: whichever runs second finds it unchanged.
    assert sum(summary["new"] for summary in summaries.values()) == len(PUBLISHED)
    assert sum(summary["published"] for summary in summaries.values()) == len(PUBLISHED)
    assert sum(summary["not_modified"] for summary in summaries.values()) == 1

    raw = [RawArticle.model_validate_json(record.value) for record in read_topic(settings, settings.topic_raw)]
    assert sorted(r.article_id for r in raw) == sorted(expected_ids(site, *PUBLISHED))
    assert all(
        record.key == r.article_id.encode() for record, r in zip(read_topic(settings, settings.topic_raw), raw, strict=True)
    )
    by_path = {r.canonical_url.removeprefix(site.base): r for r in raw}
    seed = by_path["/news/toqayev-parliamentary-reform"]
    assert "Original Author: Nikita Drobny" in seed.html and seed.encoding == "utf-8"
    assert seed.discovery.authors == ["Nikita Drobny"] and seed.discovery.kind == "feed"
    assert seed.discovery.published_at.isoformat() == "2025-11-03T04:00:00+00:00"
    assert by_path["/old-path"].url == site.url("/news/redirected")
    assert by_path["/news/sitemap-ru"].discovery.language == "ru"
    assert "Токаев подписал закон" in by_path["/news/sitemap-ru"].html
    assert site.requests["/news/flaky"] == 2 and site.requests["/private/secret"] == 0

    letters = [DeadLetter.model_validate_json(record.value) for record in read_topic(settings, settings.topic_dlq)]
    assert {(letter.url, letter.reason) for letter in letters} == {
        *((site.url(path), reason) for path, reason in DEAD_LETTERS.items()),
        (PRIVATE_URL, "ssrf_refused"),
    }
    assert all(letter.stage == "ingest" and letter.source_id == "test-rss" for letter in letters)

    second = run_dag(ingest_env, airflow_home)
    assert sum(summary["published"] for summary in second.returns["ingest"]) == 0
    assert len(read_topic(settings, settings.topic_raw)) == len(PUBLISHED)
    assert len(read_topic(settings, settings.topic_dlq)) == len(DEAD_LETTERS) + 1


def test_the_cli_publishes_a_changed_article_again_and_nothing_else(ingest_env, site):
    settings = load_settings()
    first = run_newsflow("ingest", "--once", "--source", "test-rss", env=ingest_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "test-rss: discovered 9, new 4, changed 0, not modified 0, failed before 0, published 4; skipped: http_status 1, "
        "robots_disallowed 1, ssrf_refused 1, too_large 1, wrong_content_type 1"
    ]

    site.routes["/news/second"] = Response(article_page("Second story", ["Updated with a correction."]))
    feed = site.routes["/feed.xml"]
    site.routes["/feed.xml"] = Response(
        feed.body.replace(b"<title>Second</title>", b"<title>Second (updated)</title>"), feed.content_type
    )
    again = run_newsflow("ingest", "--once", "--source", "test-rss", env=ingest_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "test-rss: discovered 9, new 0, changed 1, not modified 3, failed before 5, published 1; skipped: none"
    ]
    raw = [RawArticle.model_validate_json(record.value) for record in read_topic(settings, settings.topic_raw)]
    assert len(raw) == 5
    second = [r for r in raw if r.canonical_url == site.url("/news/second")]
    assert len(second) == 2 and "Updated with a correction." in second[1].html  # one key: one partition, in order
    assert second[0].first_seen_at == second[1].first_seen_at < second[1].fetched_at
    assert len(read_topic(settings, settings.topic_dlq)) == len(DEAD_LETTERS) + 1  # failures are not retried


def test_the_dag_fetches_only_the_sources_due(ingest_env, site, airflow_home):
    env = airflow_env(airflow_home, ingest_env)
    first = run_once("news_ingest", env, airflow_home / "dagrun.log")  # none polled yet: every source is due
    assert len(first.returns["ingest"]) == 5
    listings = ("/feed.xml", "/atom.xml", "/sitemap-news.xml", "/broken.xml", "/headlines")
    before = {path: site.requests[path] for path in listings}
    second = run_once("news_ingest", env, airflow_home / "dagrun.log")  # each due again in its poll interval
    assert "ingest" not in second.returns and {path: site.requests[path] for path in listings} == before
    named = run_once("news_ingest", env, airflow_home / "dagrun.log", {"sources": ["test-atom"]})  # due or not
    assert [summary["source_id"] for summary in named.returns["ingest"]] == ["test-atom"]
    assert site.requests["/atom.xml"] == before["/atom.xml"] + 1
