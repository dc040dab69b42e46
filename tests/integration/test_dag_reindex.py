"""news_reindex through Airflow (`dag.test()`) on the real Elasticsearch: an index of an older
template version is found outdated by the trigger, rebuilt with every document and version, and
the old index dropped when its time is up; a current index is left alone unless asked."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.baseline import standard_index
from newsflow.clients import elasticsearch_client
from newsflow.dagrun import run_once
from newsflow.ops.dags import IndexOutdated
from newsflow.settings import load_settings
from search.index import TEMPLATE_VERSION, document, index_template_version, physical_index, version
from tests.articles import SEED, UNRELATED, article

pytestmark = pytest.mark.integration


def first_event(poll_seconds: float, wait: float) -> dict | None:
    """The trigger's first event within `wait` seconds, or None."""

    async def first() -> dict | None:
        events = IndexOutdated(poll_seconds=poll_seconds).run()
        try:
            return (await asyncio.wait_for(anext(events), wait)).payload
        except TimeoutError:
            return None
        finally:
            await events.aclose()

    return asyncio.run(first())


def test_an_outdated_index_is_rebuilt_with_every_version_and_the_old_one_dropped_in_time(dag_env, tmp_path: Path):
    settings = load_settings()
    es = elasticsearch_client(settings)
    alias = settings.index_alias
    standard_index(es, settings)  # template version 1: the standard analyzer, no version recorded
    articles = [article(1, SEED), article(3, UNRELATED)]
    for each in articles:
        es.index(
            index=alias,
            id=each.article_id,
            document=document(each, None, datetime.now(UTC)),
            version=version(each),
            version_type="external",
            refresh="wait_for",
        )

    event = first_event(poll_seconds=0.2, wait=30)
    assert event == {
        "reason": f"{alias}-000001 was made from template version 1; this newsflow's is {TEMPLATE_VERSION}",
        "template_version": TEMPLATE_VERSION,
    }

    log = tmp_path / "reindex.log"
    rebuilt = run_once("news_reindex", dag_env, log, {"keep_old_hours": 0})
    (reindexed,) = rebuilt.returns["reindex"]
    assert reindexed == {
        "rebuilt": True,
        "old": f"{alias}-000001",
        "index": f"{alias}-000002",
        "copied": 2,
        "reason": event["reason"],
    }
    assert rebuilt.returns["drop_retired"] == [[f"{alias}-000001"]]  # kept 0 hours
    assert physical_index(es, settings) == f"{alias}-000002" and index_template_version(es, f"{alias}-000002") == TEMPLATE_VERSION
    assert [es.get(index=alias, id=each.article_id)["_version"] for each in articles] == [version(each) for each in articles]
    assert not es.indices.exists(index=f"{alias}-000001")
    assert first_event(poll_seconds=0.2, wait=1) is None  # current: no event

    left_alone = run_once("news_reindex", dag_env, log)
    assert left_alone.returns["reindex"] == [{"rebuilt": False, "index": f"{alias}-000002", "reason": "current"}]

    asked = run_once("news_reindex", dag_env, log, {"rebuild": "always", "keep_old_hours": 1})
    assert asked.returns["reindex"][0]["index"] == f"{alias}-000003" and asked.returns["reindex"][0]["reason"] == "asked"
    assert asked.returns["drop_retired"] == [[]]  # the old one is kept for an hour
    kept = es.indices.get_mapping(index=f"{alias}-000002")[f"{alias}-000002"]["mappings"]["_meta"]
    hours = (datetime.fromisoformat(kept["delete_after"]) - datetime.fromisoformat(kept["retired_at"])).total_seconds() / 3600
    assert hours == pytest.approx(1)
    es.close()
