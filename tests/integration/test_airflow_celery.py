"""Airflow 3 under its CeleryExecutor with two workers standing for two machines: the news_ingest DAG
publishes each article once.

1. A Redis of the test's own (`newsflow services up redis`, its state dir, a free port): Celery's broker
   and result backend (`newsflow.dagrun.celery_config`).
2. The scheduler's machine: an Airflow home on SQLite, its api-server, scheduler and dag-processor.
   SQLite suffices because Airflow 3's workers never open the metadata database: their tasks talk
   to the api-server's execution API. Only these three processes use it, as under `airflow standalone`.
3. Two worker machines: `airflow celery worker`, one task at a time, each with an Airflow home (no
   database in it), task-log folder and NEWSFLOW_STATE_DIR of its own, reaching the same Kafka and
   Elasticsearch (and so the same ingest state) and the same api-server.
4. A news site whose two feeds overlap (stories 0–39 and 20–59), two sources. news_ingest, unpaused,
   runs at once for its latest scheduled time (both sources are due): it ingests both at once, one
   on each worker, racing for the twenty stories they share; a run by hand ingests both again.
5. Each story is on news.raw once (so the second run published nothing), each worker's own log
   folder holds the log of an ingest task (both workers ran one), and the database file Airflow
   opens in each worker's home holds no table: the workers never used one.
"""

import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from ingest.contract import RawArticle
from newsflow.dagrun import AIRFLOW, airflow_env, celery_config, migrate
from newsflow.ops.demo.site import NewsSite, Response, article_page, rss
from newsflow.settings import Settings
from newsflow.urls import article_id
from tests.helpers import free_port, own_topics, read_topic, run_newsflow

pytestmark = pytest.mark.integration

FEEDS = {"first": range(0, 40), "second": range(20, 60)}  # stories 20–39 are in both
WORKERS = ("worker-a", "worker-b")
TIMEOUT = 600  # a fresh, loaded CI machine took over 300 s to start the five processes and run


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Settings]:
    """A Redis of the test's own, through `newsflow services up redis`; stopped afterwards."""
    env = {**os.environ, "NEWSFLOW_STATE_DIR": str(tmp_path / "redis-state"), "NEWSFLOW_REDIS_PORT": str(free_port())}
    started = run_newsflow("services", "up", "redis", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Settings(state_dir=Path(env["NEWSFLOW_STATE_DIR"]), redis_port=int(env["NEWSFLOW_REDIS_PORT"]))
    finally:
        run_newsflow("services", "down", "redis", env=env)


@contextmanager
def running(command: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`command` in the background, its output in `log`; SIGTERM to its process group afterwards."""
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=dict(env), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Api:
    """Airflow's REST API, logged in as the simple auth manager's admin."""

    def __init__(self, url: str, home: Path, deadline: float) -> None:
        self.url = url
        passwords = home / "simple_auth_manager_passwords.json.generated"
        while not passwords.is_file() or not self._up():
            assert time.monotonic() < deadline, "the api-server did not come up: see api-server.log"
            time.sleep(2)
        (password,) = json.loads(passwords.read_text()).values()
        token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        self.client = httpx.Client(base_url=f"{url}/api/v2", headers=headers, timeout=30)  # SQLite may be busy

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def runs(self, dag_id: str) -> list[dict]:
        return self.client.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after"}).json()["dag_runs"]

    def trigger(self, dag_id: str, conf: Mapping[str, object], deadline: float) -> None:
        """A run of `dag_id` by hand, asked again while the API answers "Database error": on SQLite, two
        writers (here the POST and a task's heartbeat, both in the api-server) can lock each other until
        the busy timeout, and the request's transaction is rolled back. Airflow's task SDK retries its own
        calls for the same reason; PostgreSQL has no such lock (docs/scaling.md)."""
        while True:
            response = self.client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": dict(conf)})
            if response.status_code == 200:
                return
            database_busy = response.status_code == 500 and '"reason":"Database error"' in response.text
            assert database_busy and time.monotonic() < deadline, response.text
            time.sleep(2)

    def until(self, what: str, done: Callable[[], bool], deadline: float) -> None:
        while not done():
            assert time.monotonic() < deadline, f"{what}: not in time (see the logs under the test's tmp_path)"
            time.sleep(2)


def test_two_celery_workers_on_separate_local_state_publish_each_article_once(local_services, redis, tmp_path):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    topics = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    api_url = f"http://127.0.0.1:{free_port()}"
    deadline = time.monotonic() + TIMEOUT
    with NewsSite() as site, own_topics(topics), ExitStack() as processes:
        for n in range(60):
            site.routes[f"/news/{n}"] = Response(article_page(f"Story {n}", [f"Story {n}: the first paragraph.", "Another."]))
        for feed, stories in FEEDS.items():
            items = [{"title": f"Story {n}", "link": site.url(f"/news/{n}")} for n in stories]
            site.routes[f"/{feed}.xml"] = Response(rss(feed, items), "application/rss+xml")
        sources = [
            {"id": feed, "name": feed, "kind": "feed", "urls": [site.url(f"/{feed}.xml")], "requests_per_second": 10}
            | {"allow_networks": ["127.0.0.0/8"]}
            for feed in FEEDS
        ]
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
        common = {
            **os.environ,
            **celery_config(redis, api_url),
            "NEWSFLOW_SOURCES_FILE": str(tmp_path / "sources.yaml"),
            "NEWSFLOW_TOPIC_RAW": topics.topic_raw,
            "NEWSFLOW_TOPIC_ARTICLES": topics.topic_articles,
            "NEWSFLOW_TOPIC_DLQ": topics.topic_dlq,
            "NEWSFLOW_INGEST_SCHEDULE": "0 0 1 1 *",  # yearly: the run of unpausing, and no other tick
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,  # the api-server checks the scheduler's task tokens
        }

        scheduler_home = tmp_path / "scheduler"
        scheduler = airflow_env(scheduler_home, {**common, "NEWSFLOW_STATE_DIR": str(scheduler_home / "state")})
        migrate(scheduler, scheduler_home / "migrate.log")
        api_port = api_url.rsplit(":", 1)[1]
        for command in (["api-server", "--port", api_port], ["scheduler"], ["dag-processor"]):
            processes.enter_context(running([str(AIRFLOW), *command], scheduler, scheduler_home / f"{command[0]}.log"))
        for worker in WORKERS:
            home = tmp_path / worker
            env = airflow_env(home, {**common, "NEWSFLOW_STATE_DIR": str(home / "state")})
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            # One task at a time, so that the two sources' tasks of a run land on both workers.
            command = [str(AIRFLOW), "celery", "worker", "--concurrency", "1", "--celery-hostname", f"{worker}@%h"]
            processes.enter_context(running(command, env, tmp_path / f"{worker}.log"))

        api = Api(api_url, scheduler_home, deadline)
        api.until("news_ingest parsed", lambda: api.client.get("/dags/news_ingest").status_code == 200, deadline)
        # Unpaused, it runs at once for its latest scheduled time (every source is due; the schedule is yearly
        # here, so no later tick adds a run to a slow test); then by hand.
        assert api.client.patch("/dags/news_ingest", json={"is_paused": False}).status_code == 200
        api.until("a scheduled run", lambda: bool(api.runs("news_ingest")), deadline)
        api.trigger("news_ingest", {"only_due": False}, deadline)
        api.until(
            "both runs ended", lambda: all(run["state"] not in ("queued", "running") for run in api.runs("news_ingest")), deadline
        )
        runs = api.runs("news_ingest")

        published = Counter(
            RawArticle.model_validate_json(record.value).article_id for record in read_topic(topics, topics.topic_raw)
        )

    assert [(run["run_type"], run["state"]) for run in runs] == [("scheduled", "success"), ("manual", "success")]
    assert published == {article_id(site.url(f"/news/{n}")): 1 for n in range(60)}
    for worker in WORKERS:
        ingest_logs = list((tmp_path / worker / "logs").glob("dag_id=news_ingest/**/task_id=ingest/**/*.log"))
        assert ingest_logs, f"{worker} ran no ingest task: see {tmp_path / worker}.log"
        assert metadata_tables(tmp_path / worker / "airflow.db") == 0  # Airflow opened it at start, never used it


def metadata_tables(database: Path) -> int:
    """How many tables the SQLite file `database` holds (0 if there is none)."""
    if not database.is_file():
        return 0
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
