"""The fixtures of the fault suite: services of its own, which its tests kill."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import free_port, run_newsflow


@contextmanager
def _own(*names: str) -> Iterator[tuple[dict[str, str], Path]]:
    """The named local services (all when none is named) of their own, on free ports, under a state
    dir of their own; the environment that points at them and that home; stopped and wiped afterwards."""
    home = Path(tempfile.mkdtemp(prefix="newsflow-faults-"))
    home.chmod(0o755)  # Elasticsearch runs as an unprivileged user when the tests run as root
    env = {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(home / "state"),
        "NEWSFLOW_KAFKA_PORT": str(free_port()),
        "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_TRANSPORT_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_HEAP": "512m",
        "NEWSFLOW_TRANSFORM_METRICS_PORT": "0",
        "NEWSFLOW_INDEX_RETRY_MAX_SECONDS": "2",
        "NEWSFLOW_SOURCES_FILE": str(home / "no-sources.yaml"),
    }
    try:
        up = run_newsflow("services", "up", *names, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, home
    finally:
        run_newsflow("services", "down", "--wipe", env=env)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def own_services() -> Iterator[tuple[dict[str, str], Path]]:
    """Kafka and Elasticsearch of their own."""
    with _own() as own:
        yield own


@pytest.fixture
def own_kafka() -> Iterator[tuple[dict[str, str], Path]]:
    """Kafka of its own (no Elasticsearch)."""
    with _own("kafka") as own:
        yield own
