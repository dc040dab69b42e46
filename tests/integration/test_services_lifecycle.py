"""`newsflow services up | status | down` on a second, separate Kafka: idempotent, stops only its own."""

import re
from pathlib import Path

import pytest

from newsflow.services.base import port_open
from tests.helpers import run_newsflow

pytestmark = pytest.mark.integration


def test_the_running_services_report_kafka_4_and_elasticsearch_9_healthy(local_services):
    status = run_newsflow("services", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert re.match(r"kafka 4\.\d+\.\d+: healthy \(1 broker, controller 1\); pid \d+, ports \d+, \d+$", lines[0])
    assert re.match(r"elasticsearch 9\.\d+\.\d+: healthy \(cluster (green|yellow)\); pid \d+, ports \d+, \d+$", lines[1])


def test_up_is_idempotent_and_down_keeps_data_unless_wiped(isolated_env):
    state = Path(isolated_env["NEWSFLOW_STATE_DIR"])
    up = run_newsflow("services", "up", "kafka", env=isolated_env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"^kafka 4\.\d+\.\d+: started, healthy", up.stdout, re.MULTILINE)
    pid = int((state / "kafka" / "run.json").read_text().split('"pid": ')[1].split(",")[0])

    again = run_newsflow("services", "up", "kafka", env=isolated_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^kafka 4\.\d+\.\d+: already running, healthy", again.stdout, re.MULTILINE)
    assert f"pid {pid}," in run_newsflow("services", "status", "kafka", env=isolated_env).stdout

    down = run_newsflow("services", "down", "kafka", env=isolated_env)
    assert down.stdout.strip() == "kafka: stopped", down.stdout + down.stderr
    assert not port_open(int(isolated_env["NEWSFLOW_KAFKA_PORT"]))
    assert (state / "kafka" / "data" / "meta.properties").is_file()
    assert run_newsflow("services", "down", "kafka", env=isolated_env).stdout.strip() == "kafka: was not running"

    wiped = run_newsflow("services", "down", "kafka", "--wipe", env=isolated_env)
    assert wiped.stdout.splitlines() == ["kafka: was not running", "kafka: data deleted"]
    assert not (state / "kafka" / "data").exists()
