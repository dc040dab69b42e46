"""`newsflow airflow` runs Airflow 3 for real: its UI's API, opened with the login it prints,
lists the six DAGs and no import errors; SIGTERM stops every process it started."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.integration

DAG_IDS = ["news_backfill", "news_ingest", "news_quality", "news_redrive", "news_reindex", "news_retention"]
LOGIN = re.compile(r"Airflow UI: (?P<url>http://\S+/)\s+login: (?P<username>\S+) / (?P<password>\S+)")


def lines_of(process: subprocess.Popen) -> "queue.Queue[str]":
    """The lines `process` prints, as they come (read by a thread of their own)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_newsflow_airflow_serves_the_dags_without_import_errors(local_services, tmp_path: Path):
    env = {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_SOURCES_FILE": str(Path(__file__).parents[2] / "sources.example.yaml"),
        "NEWSFLOW_AIRFLOW_PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    command = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "airflow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    try:
        lines = lines_of(command)
        deadline = time.monotonic() + 400
        while not (login := next(filter(None, map(LOGIN.search, output)), None)):
            assert command.poll() is None and time.monotonic() < deadline, "".join(output)
            try:
                output.append(lines.get(timeout=5))
            except queue.Empty:
                continue
        url = login["url"].rstrip("/")
        token = httpx.post(f"{url}/auth/token", json={"username": login["username"], "password": login["password"]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        while True:  # the DAG processor may still be parsing
            dags = httpx.get(f"{url}/api/v2/dags", headers=headers, params={"limit": 100}).json()
            if len(dags["dags"]) == len(DAG_IDS) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert sorted(dag["dag_id"] for dag in dags["dags"]) == DAG_IDS
        assert httpx.get(f"{url}/api/v2/importErrors", headers=headers).json()["total_entries"] == 0
        assert httpx.get(f"{url}/", headers=headers).status_code == 200  # the UI itself
    finally:
        command.send_signal(signal.SIGTERM)
        try:
            assert command.wait(90) == 0
        finally:
            if command.poll() is None:
                command.kill()
    standalone = Path(env["NEWSFLOW_STATE_DIR"]) / "airflow" / "standalone.log"
    assert "Starting Airflow Standalone" in standalone.read_text()
