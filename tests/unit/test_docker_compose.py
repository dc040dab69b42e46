"""docker-compose.yml stays in step with the local services and keeps its security promises."""

import re
from pathlib import Path

import yaml

from newsflow.settings import Settings

COMPOSE = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
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
