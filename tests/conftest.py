import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from newsflow import services
from newsflow.dagrun import airflow_config
from newsflow.settings import Settings, load_settings

# Airflow reads its configuration when first imported: set newsflow's before a test imports it
# (none of the imports above does).
os.environ.update(airflow_config())


def run_newsflow(*arguments: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `newsflow` command as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def local_services() -> Settings:
    """The settings of a running, healthy local Kafka and Elasticsearch.

    Brings them up through `newsflow services up` when they are not running, and leaves them
    running afterwards (the next test run starts at once; `make services-down` stops them).
    """
    settings = load_settings()
    if not all(state.health and state.health.healthy for state in services.status(settings)):
        started = run_newsflow("services", "up")
        assert started.returncode == 0, f"newsflow services up failed:\n{started.stdout}\n{started.stderr}"
    return settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def isolated_env(tmp_path) -> dict[str, str]:
    """An environment with its own state dir and free ports, away from the running services."""
    return {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_KAFKA_PORT": str(free_port()),
        "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_TRANSPORT_PORT": str(free_port()),
    }


@pytest.fixture
def worker_topics(local_services: Settings, monkeypatch):
    """Topics and a transform group of their own (a random prefix), in os.environ for the workers
    a test starts and as settings; the topics are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    variables = {
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw", "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq", "NEWSFLOW_TRANSFORM_GROUP": f"{prefix}-transform",
        "NEWSFLOW_TRANSFORM_METRICS_PORT": str(free_port()), "NEWSFLOW_SOURCES_FILE": "sources.example.yaml",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with own_topics(load_settings()) as settings:
        yield settings


@contextmanager
def own_topics(settings: Settings) -> Iterator[Settings]:
    """The three topics of `settings`, created for the block and deleted after it."""
    from newsflow.clients import kafka_admin
    from newsflow.topics import ensure_topics

    ensure_topics(settings)
    try:
        yield settings
    finally:
        admin = kafka_admin(settings)
        admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
        admin.close()


def read_topic(settings: Settings, topic: str) -> list:
    """Every record of `topic`, read from the beginning to the current end, without a group."""
    from newsflow.clients import kafka_consumer
    from newsflow.topics import read_all

    consumer = kafka_consumer(settings, None)
    try:
        return read_all(consumer, topic)
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """An initialised Airflow 3 home on SQLite, example DAGs off, DAGs from dags/."""
    from newsflow.dagrun import airflow_env, migrate

    home = tmp_path_factory.mktemp("airflow")
    migrate(airflow_env(home, os.environ), home / "migrate.log")
    return home


def transform_processes(supervisor: int) -> list[int]:
    """The pids of a `newsflow worker transform` supervisor's worker processes."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def wait_for(condition, timeout: float = 180.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
