"""Every file in dags/ imports into Airflow 3 without errors, and each DAG is shaped as promised:
documented, a form of params, retries, its schedule and its assets."""

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from newsflow.dagrun import DAGS, airflow_env
from newsflow.settings import Settings
from search.index import template_name

CHECK = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])

def assets(condition):
    objects = getattr(condition, "objects", None)
    return [] if condition is None else [condition] if objects is None else [a for o in objects for a in assets(o)]

print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "doc_md": dag.doc_md or "",
            "params": {name: {**param.schema, "description": param.description} for name, param in dag.params.items()},
            "schedule": [
                type(dag.timetable).__name__,
                getattr(dag.timetable, "expression", None)
                or getattr(getattr(dag.timetable, "timetable", None), "expression", None),
            ],
            "assets": [asset.uri for asset in assets(dag.timetable.asset_condition)],
            "watchers": [w.trigger.serialize()[0] for a in assets(dag.timetable.asset_condition) for w in a.watchers],
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {
                task.task_id: {
                    "retries": task.retries,
                    "max_active_tis_per_dag": task.max_active_tis_per_dag,
                    "outlets": [outlet.uri for outlet in task.outlets],
                    "on_failure_callback": bool(task.on_failure_callback),
                }
                for task in dag.tasks
            },
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""

DAG_IDS = ["news_backfill", "news_ingest", "news_quality", "news_redrive", "news_reindex", "news_retention"]
NOT_RETRIED = {("news_quality", "check")}  # its failure is the alert: the next run judges again


@pytest.fixture(scope="module")
def report(airflow_home) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(DAGS)],  # dags/ wherever pytest runs from
        env=airflow_env(airflow_home, {**os.environ, "NEWSFLOW_INGEST_PARALLEL_SOURCES": "3"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_dag_imports_without_errors(report):
    assert report["errors"] == {}
    assert sorted(report["dags"]) == DAG_IDS


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_each_dag_is_documented_has_a_form_and_retries(report, dag_id):
    dag = report["dags"][dag_id]
    assert dag["doc_md"].startswith(f"{dag_id}: ")
    assert dag["params"] and all(param.get("title") and param.get("description") for param in dag["params"].values())
    assert all(task["retries"] >= 1 for task_id, task in dag["tasks"].items() if (dag_id, task_id) not in NOT_RETRIED)


def test_news_ingest_is_configured(report):
    dag = report["dags"]["news_ingest"]
    ingest = dag["tasks"]["ingest"]
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["schedule"] == ["CronTriggerTimetable", Settings().ingest_schedule]
    assert ingest["retries"] == 3 and ingest["max_active_tis_per_dag"] == 3
    settings = Settings()
    assert ingest["outlets"] == [f"kafka://{settings.kafka_bootstrap_servers}/{settings.topic_raw}"]


def test_news_backfill_runs_its_parts_one_at_a_time_and_updates_news_raw(report):
    backfill = report["dags"]["news_backfill"]["tasks"]["backfill"]
    settings = Settings()
    assert backfill["max_active_tis_per_dag"] == 1
    assert backfill["outlets"] == [f"kafka://{settings.kafka_bootstrap_servers}/{settings.topic_raw}"]


def test_news_reindex_is_scheduled_by_the_template_asset_and_its_watcher(report):
    dag = report["dags"]["news_reindex"]
    assert dag["schedule"] == ["AssetTriggeredTimetable", None]
    settings = Settings()
    address = urlsplit(settings.elasticsearch_url).netloc  # the node the tests run against, on its port
    assert dag["assets"] == [f"elasticsearch://{address}/_index_template/{template_name(settings)}"]
    assert dag["watchers"] == ["newsflow.ops.dags.IndexOutdated"]


def test_news_quality_runs_hourly_and_on_each_update_of_news_raw_and_fails_loudly(report):
    dag = report["dags"]["news_quality"]
    settings = Settings()
    assert dag["schedule"] == ["AssetOrTimeSchedule", "0 * * * *"]
    assert dag["assets"] == [f"kafka://{settings.kafka_bootstrap_servers}/{settings.topic_raw}"]
    check = dag["tasks"]["check"]
    assert check["retries"] == 0 and check["on_failure_callback"] is True
