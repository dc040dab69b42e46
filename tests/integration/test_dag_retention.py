"""news_retention through Airflow (`dag.test()`) on the real Elasticsearch: the articles published
before the cutoff, or undated and first seen before it, leave the index and ingest's state; a dry
run only counts them."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.fetcher import Validators
from ingest.state import SeenStore
from newsflow.clients import elasticsearch_client
from newsflow.dagrun import run_once
from newsflow.settings import load_settings
from search.index import create_index, document, version
from tests.articles import UNRELATED, article

pytestmark = pytest.mark.integration


def test_old_articles_leave_the_index_and_ingests_state_with_counts(dag_env, tmp_path: Path):
    settings = load_settings()
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    articles = {
        "old-dated": article(1, UNRELATED, "wire", published=old, seen=recent, fetched=recent),  # the publication date decides
        "old-undated": article(2, UNRELATED, "paper", seen=old, fetched=old),
        "recent-dated": article(3, UNRELATED, "wire", published=recent, seen=recent, fetched=recent),
        "recent-undated": article(4, UNRELATED, "paper", seen=recent, fetched=recent),
    }
    es = elasticsearch_client(settings)
    create_index(es, settings)
    store = SeenStore.open(settings)
    for each in articles.values():
        es.index(
            index=settings.index_alias,
            id=each.article_id,
            document=document(each, None, now),
            version=version(each),
            version_type="external",
            refresh="wait_for",
        )
        store.record_article(each.url, each.article_id, each.source_id, Validators(), "sha", each.first_seen_at, each.fetched_at)
    store.record_failure("https://wire.example/gone", "http_status", old)
    store.close()
    log = tmp_path / "retention.log"

    (counted,) = run_once("news_retention", dag_env, log, {"max_age_days": 365, "dry_run": True}).returns["expire"]
    assert (counted["expired"], counted["deleted"], counted["dry_run"]) == (2, 0, True)
    assert es.count(index=settings.index_alias)["count"] == 4

    (report,) = run_once("news_retention", dag_env, log, {"max_age_days": 365}).returns["expire"]
    assert report["by_source"] == {"paper": 1, "wire": 1}
    assert report["by_date"] == {"published_at": 1, "first_seen_at": 1}
    assert (report["expired"], report["deleted"], report["forgotten"], report["failures_forgotten"]) == (2, 2, 2, 1)
    left = {hit["_id"] for hit in es.search(index=settings.index_alias, size=10)["hits"]["hits"]}
    assert left == {articles["recent-dated"].article_id, articles["recent-undated"].article_id}
    store = SeenStore.open(settings)
    assert [name for name, each in articles.items() if store.article(each.url)] == ["recent-dated", "recent-undated"]
    assert store.horizon() == datetime.fromisoformat(report["cutoff"])  # ingest takes none of them again
    assert store.failure("https://wire.example/gone") is None
    store.close()

    (nothing,) = run_once("news_retention", dag_env, log).returns["expire"]
    assert nothing == {"kept": "every article: no maximum age (NEWSFLOW_RETENTION_DAYS is 0)"}
    es.close()
