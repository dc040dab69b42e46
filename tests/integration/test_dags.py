"""Every file in dags/ imports into Airflow 3 without errors, and news_ingest is shaped as promised."""

import json
import os
import subprocess
import sys

from newsflow.dagrun import DAGS, airflow_env
from newsflow.settings import Settings

CHECK = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.get_dag("news_ingest")
ingest = dag.get_task("ingest")
print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "dags": sorted(bag.dag_ids),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "retries": ingest.retries,
    "max_active_tis_per_dag": ingest.max_active_tis_per_dag,
    "outlets": [outlet.uri for outlet in ingest.outlets],
}))
"""


def test_every_dag_imports_and_news_ingest_is_configured(airflow_home):
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(DAGS)],  # dags/ wherever pytest runs from
        env=airflow_env(airflow_home, {**os.environ, "NEWSFLOW_INGEST_PARALLEL_SOURCES": "3"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dags"] == ["news_ingest"]
    assert report["catchup"] is False and report["max_active_runs"] == 1
    assert report["retries"] == 3 and report["max_active_tis_per_dag"] == 3
    settings = Settings()
    assert report["outlets"] == [f"kafka://{settings.kafka_bootstrap_servers}/{settings.topic_raw}"]
