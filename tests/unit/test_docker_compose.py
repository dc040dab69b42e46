"""docker-compose.yml stays in step with the local services and keeps its security promises."""

import re
from pathlib import Path

import yaml

from newsflow.dagrun import airflow_config
from newsflow.settings import Settings

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_it_runs_the_versions_the_local_services_run():
    defaults = Settings()
    assert SERVICES["kafka"]["image"] == f"apache/kafka:${{KAFKA_VERSION:-{defaults.kafka_version}}}"
    for name in ("elasticsearch", "kibana"):
        assert SERVICES[name]["image"].endswith(f":${{ELASTIC_VERSION:-{defaults.elasticsearch_version}}}")


def test_every_published_port_is_bound_to_loopback():
    published = [port for service in SERVICES.values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published)


def test_passwords_come_from_the_environment_only():
    for name, service in SERVICES.items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name}.{key} must come from .env"


def test_elasticsearch_runs_with_security_enabled():
    assert SERVICES["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"


def test_the_pipeline_containers_reach_the_services_by_name():
    for name in ("airflow", "transform-worker", "index-worker", "api"):
        environment = SERVICES[name]["environment"]
        assert environment["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert environment["NEWSFLOW_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"


def test_kafka_and_the_pipeline_share_newsflows_record_limit():
    # One variable, with the default of the settings, for every size limit of the broker and for
    # newsflow's clients and topics in the containers: what one side accepts, the other does too.
    limit = f"${{NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES:-{Settings().kafka_max_message_bytes}}}"
    kafka = SERVICES["kafka"]["environment"]
    assert {key: value for key, value in kafka.items() if key.endswith("_BYTES")} == {
        "KAFKA_MESSAGE_MAX_BYTES": limit,
        "KAFKA_REPLICA_FETCH_MAX_BYTES": limit,
    }
    for name in ("airflow", "transform-worker", "index-worker", "api"):
        assert SERVICES[name]["environment"]["NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES"] == limit


def test_airflow_runs_with_newsflows_airflow_configuration():
    workdir = next(line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("WORKDIR "))
    expected = airflow_config(f"{workdir}/dags")  # the image's copy of dags/
    airflow = [service for service in SERVICES.values() if service.get("command", "").startswith("airflow ")]
    assert airflow
    for service in airflow:
        assert {key: service["environment"].get(key) for key in expected} == expected
