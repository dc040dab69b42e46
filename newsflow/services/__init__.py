"""Local Kafka and Elasticsearch, started from Maven Central artifacts, and Redis: `newsflow services ...`.

For tests, CI, the demo and users without Docker. Users with Docker run docker-compose.yml
instead and point NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS and NEWSFLOW_ELASTICSEARCH_URL at it.

Each service runs NEWSFLOW_SERVICE_NODES nodes (base.py says how they are named and where they
listen): one by default, three for a Kafka cluster and an Elasticsearch cluster on loopback.
A name picks every node of a service (`kafka`) or one node of a cluster (`kafka-2`). No name picks
the DEFAULT services, and an OPTIONAL one (Redis, the broker of Airflow's CeleryExecutor) only when
it runs: `up` starts it only when named.
"""

import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from elasticsearch import ApiError, TransportError
from kafka.errors import KafkaError

from newsflow.errors import ConfigError, ServiceError
from newsflow.services import elasticsearch_node, kafka_broker
from newsflow.services.base import Health, LocalService, RunRecord
from newsflow.services.elasticsearch_node import ElasticsearchNode
from newsflow.services.kafka_broker import KafkaBroker
from newsflow.services.redis_server import RedisServer
from newsflow.settings import Settings

SERVICES: dict[str, type[LocalService]] = {"kafka": KafkaBroker, "elasticsearch": ElasticsearchNode, "redis": RedisServer}
DEFAULT = ("kafka", "elasticsearch")  # the pipeline's; the others are OPTIONAL, started only when named


@dataclass(frozen=True)
class ServiceState:
    name: str
    version: str
    record: RunRecord | None
    health: Health | None

    def describe(self) -> str:
        if self.record is None:
            return f"{self.name} {self.version}: stopped"
        ports = ", ".join(str(port) for port in self.record.ports.values())
        health = "healthy" if self.health and self.health.healthy else "unhealthy"
        detail = self.health.detail if self.health else ""
        version = (self.health.version if self.health else None) or self.record.version
        return f"{self.name} {version}: {health} ({detail}); pid {self.record.pid}, ports {ports}"


def nodes(settings: Settings) -> list[LocalService]:
    """Every node of every service, in start order."""
    return [kind(settings, node) for kind in SERVICES.values() for node in range(settings.service_nodes if kind.clustered else 1)]


def select(settings: Settings, names: Iterable[str] = ()) -> list[LocalService]:
    """The nodes called `names` or of the services called so, in start order; when none is named, those
    of the DEFAULT services and of the optional ones that run."""
    every = nodes(settings)
    names = list(names)
    known = list(SERVICES) + [node.name for node in every if node.name not in SERVICES]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown service {unknown[0]!r}: choose among {', '.join(known)}")
    if not names:
        return [node for node in every if node.service in DEFAULT or node.running() is not None]
    return [node for node in every if node.service in names or node.name in names]


def up(settings: Settings, names: Iterable[str] = (), report: Callable[[str], None] = print) -> None:
    """Bring the services up and healthy.

    1. A node already running is left as it is (up is idempotent) but must be healthy.
    2. The ports of the others must be free, before anything is installed or started.
    3. Each is installed: artifacts resolved from Maven Central (cached in ~/.m2) or a binary found, config written.
    4. Each is started in the background, all at once (the nodes of a cluster need each other to
       elect a controller or master); then each must become healthy in time, or what this call
       started is stopped again.
    """
    services = select(settings, names)
    running = {service.name: service.running() for service in services}
    to_start = [service for service in services if running[service.name] is None]
    for service in to_start:
        service.check_ports_free()
    for service in to_start:
        report(f"{service.name} {service.version}: installing ({service.installed_from})")
        service.install()
    records = {name: record for name, record in running.items() if record is not None}
    for service in to_start:
        record = records[service.name] = service.start()
        report(f"{service.name} {service.version}: started (pid {record.pid}), waiting for health")
    started = time.monotonic()
    deadline = started + settings.service_start_timeout
    try:
        for service in services:
            health = service.wait_healthy(records[service.name], deadline)
            verb = "started" if service in to_start else "already running"
            report(
                f"{service.name} {health.version or service.version}: {verb}, healthy ({health.detail}) "
                f"after {time.monotonic() - started:.1f} s"
            )
    except ServiceError:
        _stop_together(to_start)  # leave things as they were before this call
        raise


def down(settings: Settings, names: Iterable[str] = (), wipe: bool = False, report: Callable[[str], None] = print) -> None:
    """Stop what `up` started (by its run record); with `wipe`, also delete the services' data.

    The nodes of one service stop together: a Kafka node stopped after the others would wait for a
    quorum that is gone."""
    chosen = select(settings, names)
    for kind in reversed(SERVICES):
        group = [service for service in chosen if service.service == kind]
        for service, stopped in zip(group, _stop_together(group), strict=True):
            report(f"{service.name}: {'stopped' if stopped else 'was not running'}")
            if wipe:
                for folder in service.data_dirs:
                    shutil.rmtree(folder, ignore_errors=True)
                report(f"{service.name}: data deleted")


def _stop_together(services: list[LocalService]) -> list[bool]:
    if not services:
        return []
    with ThreadPoolExecutor(len(services)) as pool:
        return list(pool.map(LocalService.stop, services))


def status(settings: Settings, names: Iterable[str] = ()) -> list[ServiceState]:
    states = []
    for service in select(settings, names):
        record = service.running()
        health = service.probe(record) if record else None
        states.append(ServiceState(service.name, service.version, record, health))
    return states


def cluster_status(settings: Settings) -> list[str]:
    """One line on each local cluster: its nodes, its controller or master, its partitions or shards short of replicas."""
    lines = []
    try:
        lines.append(kafka_broker.describe_cluster(settings).describe(settings.service_nodes))
    except KafkaError as exc:
        lines.append(f"kafka cluster: no answer ({type(exc).__name__})")
    try:
        lines.append(elasticsearch_node.describe_cluster(settings).describe(settings.service_nodes))
    except (ApiError, TransportError) as exc:
        lines.append(f"elasticsearch cluster: no answer ({type(exc).__name__})")
    return lines
