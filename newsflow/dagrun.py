"""Run a DAG of dags/ once, through Airflow itself (`dag.test()`, Airflow 3 on SQLite), without a scheduler.

For `newsflow demo` and the tests. The run happens in a child process, `python -m newsflow.dagrun
DAG_ID [CONF [LOGICAL_DATE]]`, because Airflow reads its configuration (AIRFLOW_HOME, the DAGs
folder) once, when first imported; CONF, JSON, is the run's configuration (the DAG's params); the
child prints the run as JSON on its last line. A run given the LOGICAL_DATE (ISO 8601) of an earlier
one is that same DAG run again (the same run id, its task instances cleared and tried again), as
Airflow's retry of a failed task is: a fault test kills a run and runs it again so.
"""

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from newsflow.errors import AirflowFailed
from newsflow.settings import Settings

DAGS = Path(__file__).resolve().parents[1] / "dags"
AIRFLOW = Path(sys.executable).parent / "airflow"


@dataclass(frozen=True)
class DagRun:
    state: str
    returns: dict[str, list]  # task id → its return values, by map index
    failed: list[str]  # the ids of the tasks that failed


def airflow_config(dags_folder: Path | str = DAGS) -> dict[str, str]:
    """The Airflow configuration newsflow runs with, as environment variables: the DAGs of dags/
    (at `dags_folder`), no examples. The one definition for the demo, the tests and
    docker-compose.yml (held to it by tests/unit/test_docker_compose.py)."""
    return {"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder)}


def celery_config(settings: Settings, api_server_url: str) -> dict[str, str]:
    """What `airflow_config` adds to run the DAGs under Airflow's CeleryExecutor, as environment variables,
    for the scheduler and every worker alike: the local Redis (`newsflow services up redis`,
    NEWSFLOW_REDIS_PORT) as Celery's broker and result backend, and the API server at `api_server_url`
    (`airflow api-server`) whose execution API the workers' tasks talk to, in place of the metadata
    database. Redis rather than a database as the result backend (Airflow's advice) so that the
    workers need no database connection at all."""
    redis = f"redis://127.0.0.1:{settings.redis_port}"
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"{redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"{redis}/1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_server_url.rstrip('/')}/execution/",
    }


def airflow_env(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`env` plus newsflow's Airflow configuration, for a local home on SQLite."""
    return {**env, "AIRFLOW_HOME": str(home.resolve()), **airflow_config()}


def migrate(env: Mapping[str, str], log: Path) -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    _run([str(AIRFLOW), "db", "migrate"], env, log, "airflow db migrate")


def run_once(
    dag_id: str,
    env: Mapping[str, str],
    log: Path,
    conf: Mapping[str, object] | None = None,
    logical_date: datetime | None = None,
) -> DagRun:
    """Run `dag_id` once with `conf` (its params) as `run_dag` does; a run that does not succeed
    raises `AirflowFailed`."""
    run = run_dag(dag_id, env, log, conf, logical_date)
    if run.state != "success":
        raise AirflowFailed(f"the {dag_id} DAG run ended {run.state} (failed: {', '.join(run.failed)}); see {log}")
    return run


def run_dag(
    dag_id: str,
    env: Mapping[str, str],
    log: Path,
    conf: Mapping[str, object] | None = None,
    logical_date: datetime | None = None,
) -> DagRun:
    """Run `dag_id` once with `conf` (its params), whatever state it ends in; its task logs go to `log`.
    Given the `logical_date` of an earlier run, this is that run again (module docstring)."""
    output = _run(dagrun_command(dag_id, conf, logical_date), env, log, f"the {dag_id} DAG run")
    return DagRun(**json.loads(output.strip().splitlines()[-1]))


def dagrun_command(dag_id: str, conf: Mapping[str, object] | None = None, logical_date: datetime | None = None) -> list[str]:
    """The child process's command line for one run of `dag_id` (module docstring)."""
    command = [sys.executable, "-m", "newsflow.dagrun", dag_id, json.dumps(dict(conf or {}))]
    return command if logical_date is None else [*command, logical_date.isoformat()]


def _run(command: list[str], env: Mapping[str, str], log: Path, what: str) -> str:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as output:
        done = subprocess.run(command, env=dict(env), stdout=subprocess.PIPE, stderr=output, text=True)
        output.write(done.stdout)  # the task logs too, after Airflow's own messages
    if done.returncode != 0:
        raise AirflowFailed(f"{what} failed (exit {done.returncode}); see {log}")
    return done.stdout


def _main(dag_id: str, conf: dict, logical_date: datetime | None) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    # The same logical date and run_after give the same run id (DagRun.generate_run_id).
    run = (
        dag.test(run_conf=conf)
        if logical_date is None
        else dag.test(logical_date=logical_date, run_after=logical_date, run_conf=conf)
    )
    with create_session() as session:
        failed = (
            session.query(TaskInstance.task_id)
            .filter(TaskInstance.run_id == run.run_id, TaskInstance.state == TaskInstanceState.FAILED)
            .distinct()
            .all()
        )
        rows = (
            session.query(XComModel)
            .filter(XComModel.run_id == run.run_id, XComModel.key == "return_value")
            .order_by(XComModel.task_id, XComModel.map_index)
            .all()
        )
        returns: dict[str, list] = {}
        for row in rows:
            returns.setdefault(row.task_id, []).append(row.value)
    print(json.dumps({"state": str(run.state), "returns": returns, "failed": sorted(row[0] for row in failed)}))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    _main(
        arguments[0],
        json.loads(arguments[1]) if len(arguments) > 1 else {},
        datetime.fromisoformat(arguments[2]) if len(arguments) > 2 else None,
    )
