"""Run one DAG of dags/ with `dag.test()` (Airflow 3 on SQLite) and print its run as JSON.

Run in a child process by the tests, so that each run gets its own AIRFLOW_HOME and settings:
    python tests/airflow_dag_test.py DAG_ID
The last line printed is {"state": ..., "returns": {task_id: [return values by map index]}}.
"""

import json
import sys
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

DAGS = Path(__file__).resolve().parents[1] / "dags"


def main(dag_id: str) -> None:
    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    run = bag.get_dag(dag_id).test()
    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.run_id == run.run_id, XComModel.key == "return_value")
            .order_by(XComModel.task_id, XComModel.map_index)
            .all()
        )
        returns: dict[str, list] = {}
        for row in rows:
            returns.setdefault(row.task_id, []).append(row.value)
    print(json.dumps({"state": str(run.state), "returns": returns}))


if __name__ == "__main__":
    main(sys.argv[1])
