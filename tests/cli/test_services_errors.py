"""`newsflow services` fails with one clear line and a non-zero exit on each kind of trouble."""

import socket
from pathlib import Path

from tests.helpers import run_newsflow


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_bad_setting_exits_2_naming_the_variable(isolated_env):
    result = run_newsflow("services", "status", env={**isolated_env, "NEWSFLOW_KAFKA_PORT": "ninety"})
    assert result.returncode == 2
    assert one_error_line(result) == (
        "newsflow: error: NEWSFLOW_KAFKA_PORT='ninety' is invalid: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


def test_an_unknown_service_is_refused(isolated_env):
    result = run_newsflow("services", "up", "zookeeper", env=isolated_env)
    assert result.returncode == 2
    assert one_error_line(result) == "newsflow: error: unknown service 'zookeeper': choose among kafka, elasticsearch, redis"


def test_a_port_in_use_is_named_with_its_setting(isolated_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(isolated_env["NEWSFLOW_KAFKA_PORT"])))
        squatter.listen()
        result = run_newsflow("services", "up", env=isolated_env)
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"newsflow: error: kafka: port {isolated_env['NEWSFLOW_KAFKA_PORT']} on 127.0.0.1 is in use by another "
        "process; stop it or choose another with NEWSFLOW_KAFKA_PORT"
    )
    assert not (Path(isolated_env["NEWSFLOW_STATE_DIR"]) / "elasticsearch" / "run.json").exists()


def test_missing_maven_says_how_to_install_it(isolated_env):
    java_only = Path(isolated_env["NEWSFLOW_STATE_DIR"]).parent / "bin"
    java_only.mkdir()
    result = run_newsflow("services", "up", "kafka", env={**isolated_env, "PATH": str(java_only)})
    assert result.returncode == 1
    assert one_error_line(result).startswith("newsflow: error: Maven (mvn) not found: install it")


def test_no_recent_enough_jdk_is_named(isolated_env, tmp_path):
    old_jdk = tmp_path / "jdk17"
    (old_jdk / "bin").mkdir(parents=True)
    (old_jdk / "bin" / "java").write_text("")
    (old_jdk / "release").write_text('JAVA_VERSION="17.0.15"\n')
    result = run_newsflow("services", "up", "elasticsearch", env={**isolated_env, "NEWSFLOW_JAVA_HOME": str(old_jdk)})
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"newsflow: error: NEWSFLOW_JAVA_HOME={old_jdk} is Java 17; the local services need a JDK ≥ 21"
    )


def test_an_artifact_maven_cannot_resolve_points_to_the_maven_log(isolated_env):
    result = run_newsflow("services", "up", "kafka", env={**isolated_env, "NEWSFLOW_KAFKA_VERSION": "0.0.0-missing"})
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("newsflow: error: Maven could not resolve the dependencies of ")
    assert line.endswith(f"(see {isolated_env['NEWSFLOW_STATE_DIR']}/kafka/maven.log)")
    assert "kafka_2.13:jar:0.0.0-missing" in line


def test_a_service_that_is_not_healthy_in_time_is_stopped_and_its_log_named(isolated_env):
    result = run_newsflow("services", "up", "kafka", env={**isolated_env, "NEWSFLOW_SERVICE_START_TIMEOUT": "0.5"})
    assert result.returncode == 1
    assert one_error_line(result).endswith(
        f"kafka did not become healthy within 0.5 s (port {isolated_env['NEWSFLOW_KAFKA_PORT']} is not listening yet); "
        f"stopped it; see {isolated_env['NEWSFLOW_STATE_DIR']}/kafka/kafka.log"
    )
    status = run_newsflow("services", "status", "kafka", env=isolated_env)
    assert status.returncode == 1
    assert status.stdout.strip() == "kafka 4.4.0: stopped"
