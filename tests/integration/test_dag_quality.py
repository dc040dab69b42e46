"""news_quality through Airflow (`dag.test()`) on the real Kafka and Elasticsearch: a stale source
and one whose reject rate jumped fail the run, loudly; once they recover, the run passes. Every
run writes each source's figures to the quality index."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newsflow.clients import elasticsearch_client, kafka_producer
from newsflow.dagrun import run_dag
from newsflow.deadletters import DeadLetter
from newsflow.settings import load_settings
from search.index import create_index, document, version
from tests.articles import UNRELATED, article

pytestmark = pytest.mark.integration


def test_a_stale_source_and_a_jump_in_rejects_fail_the_run_until_they_recover(dag_env, tmp_path: Path):
    settings = load_settings()
    sources = [
        {
            "id": name,
            "name": name,
            "kind": "feed",
            "urls": [f"https://{name}.example/rss"],
            "quality": {"expected_interval_hours": 2},
        }
        for name in ("fresh", "stale", "rejecting")
    ]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    es = elasticsearch_client(settings)
    create_index(es, settings)
    now = datetime.now(UTC)

    def indexed(n: int, source: str, seen: datetime) -> None:
        each = article(n, UNRELATED, source, seen=seen, fetched=seen)
        document_ = document(each, None, now)
        es.index(
            index=settings.index_alias, id=each.article_id, document=document_, version=version(each), version_type="external"
        )

    indexed(1, "fresh", now - timedelta(minutes=10))
    indexed(2, "stale", now - timedelta(hours=3))
    indexed(3, "rejecting", now - timedelta(minutes=20))
    for n in range(10, 30):  # its usual rate: 20 articles two days ago, no dead letters
        indexed(n, "rejecting", now - timedelta(days=2))
    es.indices.refresh(index=settings.index_alias)
    producer = kafka_producer(settings)
    for n in range(5):  # then five too-short pages and one article in the last hour
        letter = DeadLetter(
            stage="transform", reason="too_short", detail="12 words", source_id="rejecting", article_id=f"{n:064x}"
        )
        producer.send(
            settings.topic_dlq,
            key=letter.key(),
            value=letter.model_dump_json().encode(),
            timestamp_ms=int(time.time() * 1000) - 40 * 60_000,
        )
    producer.flush()
    producer.close()
    log = tmp_path / "quality.log"

    failed = run_dag("news_quality", dag_env, log)
    assert (failed.state, failed.failed) == ("failed", ["check"])
    alerts = {quality["source_id"]: quality["alerts"] for quality in failed.returns["measure"][0]}
    assert alerts["fresh"] == []
    assert alerts["stale"] == [
        "source stale is stale: its newest article was first seen 3.0 h ago, beyond its expected interval of 2 h "
        "(quality.expected_interval_hours)"
    ]
    assert alerts["rejecting"] == [
        "source rejecting's reject rate jumped: 83% of the last 1 h (5 dead letters of 6 records), usually 0% "
        "(quality.reject_rate_jump 3, min_reject_rate 0.2)"
    ]
    written = log.read_text()
    assert "news_quality ALERT: source stale is stale" in written
    assert "newsflow DAG news_quality failed: task check" in written  # the on_failure_callback

    documents = {
        hit["_source"]["source_id"]: hit["_source"]
        for hit in es.search(index=settings.quality_index, query={"match_all": {}}, size=10)["hits"]["hits"]
    }
    rejecting = documents["rejecting"]
    assert rejecting["dead_letters"] == {"transform": {"too_short": 5}} and rejecting["reject_rate"] == pytest.approx(5 / 6)
    assert rejecting["too_short_rate"] == pytest.approx(5 / 6) and rejecting["languages"] == {"en": 1}
    assert rejecting["usual_articles_per_hour"] == pytest.approx(20 / (7 * 24))
    assert documents["stale"]["stale"] is True and documents["fresh"]["articles_per_hour"] == 1

    indexed(4, "stale", datetime.now(UTC))  # it publishes again
    es.indices.refresh(index=settings.index_alias)
    recovered = run_dag("news_quality", dag_env, log, {"window_hours": 0.5})  # the rejects are older than the window
    assert recovered.state == "success", recovered.failed
    assert recovered.returns["check"] == [3]
    assert es.count(index=settings.quality_index)["count"] == 6
    es.close()
