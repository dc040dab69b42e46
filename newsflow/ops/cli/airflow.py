"""`newsflow airflow`: Airflow 3 standalone with the DAGs of dags/, until Ctrl-C (newsflow.ops.standalone runs it)."""

import os
import signal
import time
from typing import Annotated

import typer

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import console, steps

DAGS_PARSED_SECONDS = 120  # the DAG processor's first pass over dags/


def airflow(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the UI; default NEWSFLOW_AIRFLOW_PORT.")] = None,
) -> None:
    """Run Airflow 3 standalone (SQLite, under the state dir) with newsflow's DAGs, and print the UI's address and login."""
    from newsflow.ops.standalone import Standalone

    settings = settings_of(ctx)
    if port is not None:
        settings = settings.model_copy(update={"airflow_port": port})
    # SIGTERM ends it as Ctrl-C does: the `with` below stops Airflow's process group.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with Standalone(settings, dict(os.environ)) as standalone:
        with steps(f"starting Airflow standalone in {standalone.home} (log: {standalone.log})") as step:
            login = standalone.ready(settings.service_start_timeout)
            step(f"Airflow UI: {login.url}  login: {login.username} / {login.password}")
            dag_ids, errors = standalone.dags()
            deadline = time.monotonic() + DAGS_PARSED_SECONDS
            while not dag_ids and not errors and time.monotonic() < deadline:
                time.sleep(2)
                dag_ids, errors = standalone.dags()
        console.print(f"DAGs: {', '.join(dag_ids) or 'none parsed yet'}", markup=False)
        for filename, error in errors.items():
            console.print(f"import error in {filename}: {error.strip().splitlines()[-1]}", markup=False)
        console.print("Airflow runs until Ctrl-C.")
        try:
            raise typer.Exit(standalone.wait())
        except KeyboardInterrupt:
            console.print("stopping Airflow")
