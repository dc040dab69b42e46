"""The fixtures of the tests; plain helpers are in tests/helpers.py."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow import services
from newsflow.clients import elasticsearch_client
from newsflow.dagrun import airflow_config
from newsflow.settings import Settings, load_settings
from tests.helpers import free_port, own_topics, run_newsflow

# Airflow reads its configuration when first imported: set newsflow's before a test imports it
# (none of the imports above does).
os.environ.update(airflow_config())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cluster suite runs only when asked for by name (`-m cluster`, `make test-cluster`): it starts six
    services of its own, so `make test` and any other -m expression (CI's `-m 'not faults'`) leave it out."""
    if "cluster" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("cluster") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("cluster") is not None])
        items[:] = kept


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
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
        "NEWSFLOW_TRANSFORM_GROUP": f"{prefix}-transform",
        "NEWSFLOW_TRANSFORM_METRICS_PORT": str(free_port()),
        "NEWSFLOW_SOURCES_FILE": "sources.example.yaml",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with own_topics(load_settings()) as settings:
        yield settings


@pytest.fixture
def dag_env(local_services: Settings, airflow_home: Path, tmp_path: Path, monkeypatch) -> Iterator[dict[str, str]]:
    """The environment of a DAG run of a test: its own state dir, sources file (tmp_path/sources.yaml,
    for the test to write), topics, index alias and quality index, also in os.environ, with Airflow's
    configuration; the topics and indices are deleted afterwards."""
    from newsflow.dagrun import airflow_env

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    variables = {
        "NEWSFLOW_STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
        "NEWSFLOW_INDEX_ALIAS": prefix,
        "NEWSFLOW_QUALITY_INDEX": f"{prefix}-quality",
        "NEWSFLOW_FETCH_RETRY_BACKOFF": "0.01",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with own_topics(load_settings()) as settings:
        yield airflow_env(airflow_home, {**os.environ, **variables})
        es = elasticsearch_client(settings).options(ignore_status=404)
        for index in es.indices.get(index=f"{prefix}*", allow_no_indices=True):  # deletes need names, not patterns
            es.indices.delete(index=index)
        for template in es.indices.get_index_template(name=f"newsflow-{prefix}*").get("index_templates", []):
            es.indices.delete_index_template(name=template["name"])
        es.close()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """An initialised Airflow 3 home on SQLite, example DAGs off, DAGs from dags/."""
    from newsflow.dagrun import airflow_env, migrate

    home = tmp_path_factory.mktemp("airflow")
    migrate(airflow_env(home, os.environ), home / "migrate.log")
    return home


@pytest.fixture(autouse=True)
def own_ingest_state(request, monkeypatch) -> Iterator[None]:
    """An ingest-state index of its own for each test that may reach Elasticsearch (marked integration
    or faults), named in os.environ for the settings and child processes it makes; deleted afterwards.
    The state is shared by every worker (`ingest.state`), so tests would otherwise see each other's."""
    if not any(request.node.get_closest_marker(mark) for mark in ("integration", "faults")):
        yield
        return
    index = f"test-state-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("NEWSFLOW_INGEST_STATE_INDEX", index)
    yield
    es = elasticsearch_client(load_settings(), max_retries=0, request_timeout=5)
    try:
        es.options(ignore_status=404).indices.delete(index=index)
    except Exception:  # noqa: BLE001 (a test that stopped its own Elasticsearch: nothing to delete)
        pass
    finally:
        es.close()
