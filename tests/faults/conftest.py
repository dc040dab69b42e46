"""The fixtures of the fault suite: services of its own, which its tests kill."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline_run import own_services


@pytest.fixture
def own_kafka() -> Iterator[tuple[dict[str, str], Path]]:
    """Kafka of its own (no Elasticsearch), on free ports, stopped and wiped afterwards."""
    with own_services("newsflow-faults-", services=("kafka",)) as own:
        yield own
