"""Airflow 3 for real, with newsflow's DAGs: `newsflow airflow` (`make airflow`).

`Standalone` goes through these steps:

1. Airflow's home is `<state dir>/airflow` (the demo's), configured as `newsflow.dagrun.airflow_env`
   says — the DAGs of dags/, no examples, SQLite — and its API server (the UI) on
   127.0.0.1:NEWSFLOW_AIRFLOW_PORT, one worker.
2. `airflow standalone` starts in a process group of its own: it creates or upgrades the
   database, then runs the scheduler, the DAG processor, the triggerer (news_reindex's watcher)
   and the API server; its output goes to `<home>/standalone.log`.
3. Wait until the API answers its health check, read the password Airflow's simple auth manager
   generated for `admin`, and log in through the API: `ready()` says where and how.
4. `dags()` lists the DAGs it parsed and the files it could not import.
5. `stop()` interrupts the group (as Ctrl-C would), and kills it if it has not ended in 30 s.
"""

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from newsflow.dagrun import AIRFLOW, airflow_env
from newsflow.errors import AirflowFailed
from newsflow.settings import Settings

USER = "admin"
STOP_SECONDS = 30


@dataclass(frozen=True)
class Login:
    url: str  # the UI's address
    username: str
    password: str


class Standalone:
    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.home = (settings.state_dir / "airflow").resolve()
        self.url = f"http://127.0.0.1:{settings.airflow_port}"
        self.log = self.home / "standalone.log"
        self.env = {
            **airflow_env(self.home, env),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__BASE_URL": self.url,  # the execution API the task runners call is under it
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            # standalone starts its components as `airflow ...`, found on PATH: this installation's
            "PATH": os.pathsep.join([str(AIRFLOW.parent), env.get("PATH", "")]),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._token: str | None = None

    def __enter__(self) -> "Standalone":
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                [str(AIRFLOW), "standalone"], env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def ready(self, timeout: float) -> Login:
        """Wait until the API answers and its login works; the UI's address and login."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if self._process is None or self._process.poll() is not None:
                raise AirflowFailed(f"airflow standalone exited before its API answered; see {self.log}")
            if time.monotonic() > deadline:
                raise AirflowFailed(
                    f"Airflow's API did not answer at {self.url} within {timeout:.0f} s "
                    f"(NEWSFLOW_SERVICE_START_TIMEOUT); see {self.log}"
                )
            time.sleep(1)
        login = Login(self.url + "/", USER, self._password())
        answer = httpx.post(f"{self.url}/auth/token", json={"username": login.username, "password": login.password}, timeout=30)
        if answer.status_code not in (200, 201):
            raise AirflowFailed(f"Airflow's API at {self.url} refused the login of {USER}: HTTP {answer.status_code}")
        self._token = answer.json()["access_token"]
        return login

    def dags(self) -> tuple[list[str], dict[str, str]]:
        """The DAG ids Airflow parsed, and the files it could not import with why (after `ready`)."""
        headers = {"Authorization": f"Bearer {self._token}"}
        found = httpx.get(f"{self.url}/api/v2/dags", params={"limit": 100}, headers=headers, timeout=30).json()
        errors = httpx.get(f"{self.url}/api/v2/importErrors", headers=headers, timeout=30).json()
        return (
            sorted(dag["dag_id"] for dag in found["dags"]),
            {error["filename"]: error["stack_trace"] for error in errors["import_errors"]},
        )

    def wait(self) -> int:
        """Until airflow standalone ends; its exit code."""
        assert self._process is not None, "started by __enter__"
        return self._process.wait()

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: standalone stops its components
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def _password(self) -> str:
        generated = Path(self.home / "simple_auth_manager_passwords.json.generated")
        return json.loads(generated.read_text())[USER]
