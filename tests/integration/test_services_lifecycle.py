"""`newsflow services up | status | down` on a second, separate Kafka: idempotent, stops only its own."""

import re
from pathlib import Path

import pytest

from newsflow.services.base import port_open
from tests.helpers import free_port, run_newsflow

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


def test_redis_runs_only_when_named_and_plain_down_stops_it(isolated_env):
    env = {**isolated_env, "NEWSFLOW_REDIS_PORT": str(free_port())}
    up = run_newsflow("services", "up", "redis", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"^redis \d+\.\d+\.\d+: started, healthy \(PONG\)", up.stdout, re.MULTILINE)
    assert "kafka" not in up.stdout  # named alone, it starts alone

    status = run_newsflow("services", "status", env=env)  # no names: the default services, and redis as it runs
    assert re.search(rf"^redis \S+: healthy \(PONG\); pid \d+, ports {env['NEWSFLOW_REDIS_PORT']}$", status.stdout, re.MULTILINE)
    assert "kafka 4" in status.stdout and status.returncode == 1  # kafka and elasticsearch are not running here

    down = run_newsflow("services", "down", env=env)
    assert "redis: stopped" in down.stdout, down.stdout + down.stderr
    assert not port_open(int(env["NEWSFLOW_REDIS_PORT"]))
    assert "redis" not in run_newsflow("services", "status", env=env).stdout
    assert (Path(env["NEWSFLOW_STATE_DIR"]) / "redis" / "data" / "appendonlydir").is_dir()  # its data kept
