"""news_backfill through Airflow (`dag.test()`) against a local site and the real Kafka: a sitemap
index whose children and news sitemap dates say which articles fall in the range; run twice."""

from pathlib import Path

import pytest
import yaml

from ingest.contract import RawArticle
from newsflow.dagrun import run_once
from newsflow.ops.demo.site import NewsSite, Response, article_page, news_sitemap
from newsflow.settings import load_settings
from tests.helpers import read_topic

pytestmark = pytest.mark.integration

ARTICLES = {
    "oct-15": "2026-10-15T08:00:00Z",
    "nov-03": "2026-11-03T08:00:00Z",
    "nov-12": "2026-11-12T20:00:00Z",
    "nov-20": "2026-11-20T08:00:00Z",
}


def build_site(site: NewsSite) -> None:
    site.routes["/robots.txt"] = Response(b"User-agent: *\nAllow: /\n", "text/plain")
    for slug in ARTICLES:
        site.routes[f"/news/{slug}"] = Response(article_page(f"Story of {slug}", [f"What happened on {slug}.", "More of it."]))
    entries = lambda month: [  # noqa: E731
        {"loc": site.url(f"/news/{slug}"), "date": day, "title": slug} for slug, day in ARTICLES.items() if slug.startswith(month)
    ]
    site.routes["/sitemap-2026-10.xml"] = Response(news_sitemap(entries("oct")), "application/xml")
    site.routes["/sitemap-2026-11.xml"] = Response(news_sitemap(entries("nov")), "application/xml")
    children = "".join(
        f"<sitemap><loc>{site.url(path)}</loc><lastmod>{lastmod}</lastmod></sitemap>"
        for path, lastmod in (("/sitemap-2026-11.xml", "2026-11-20"), ("/sitemap-2026-10.xml", "2026-10-31"))
    )
    site.routes["/sitemap.xml"] = Response(
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'.encode(), "application/xml"
    )


def test_a_backfill_publishes_the_articles_of_its_range_once(dag_env, tmp_path: Path):
    with NewsSite() as site:
        build_site(site)
        source = {"id": "wire", "name": "Wire", "kind": "sitemap", "urls": [site.url("/sitemap.xml")]}
        local = {"allow_networks": ["127.0.0.0/8"], "requests_per_second": 50}
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [{**source, **local}]}))
        conf = {"source": "wire", "first_day": "2026-11-01", "last_day": "2026-11-15", "days_per_task": 7}

        first = run_once("news_backfill", dag_env, tmp_path / "backfill.log", conf)
        second = run_once("news_backfill", dag_env, tmp_path / "backfill.log", conf)
        requests = dict(site.requests)

    assert len(first.returns["backfill"]) == 3  # 9–15, 2–8 and 1 November
    (total,) = first.returns["total"]
    assert (total["new"], total["published"], total["skipped"]) == (2, 2, {})
    settings = load_settings()
    published = [RawArticle.model_validate_json(record.value) for record in read_topic(settings, settings.topic_raw)]
    assert sorted(article.canonical_url.rsplit("/", 1)[1] for article in published) == ["nov-03", "nov-12"]
    assert {article.discovery.kind for article in published} == {"sitemap"}
    assert requests.get("/sitemap-2026-10.xml") is None  # last modified before the range: never read
    assert requests.get("/news/nov-20") is None and requests.get("/news/oct-15") is None

    (again,) = second.returns["total"]
    assert (again["published"], again["not_modified"]) == (0, 2)
    assert len(read_topic(settings, settings.topic_raw)) == 2
