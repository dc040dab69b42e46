"""Apache Kafka 4 from Maven Central: one KRaft node (broker and controller), or one node of a local cluster.

One node forms a quorum by itself (`--standalone`). The nodes of a cluster are static voters of one
quorum (`controller.quorum.voters`), all formatted with the same cluster id, which the first node to
be installed writes to `<state_dir>/kafka-cluster-id`.

`describe_cluster` reads what `newsflow services status` shows of a cluster: the brokers, the active
controller (the leader of the metadata quorum) and the partitions whose in-sync replicas are fewer
than their replicas.
"""

import base64
import subprocess
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from newsflow.errors import ServiceError
from newsflow.services import maven
from newsflow.services.base import Health, LocalService, RunRecord, port_open, quiet_loggers, write_from_template
from newsflow.services.jdk import Jdk, find_jdk
from newsflow.settings import Settings, min_insync_for, replication_for

KAFKA_MINIMUM_JAVA = 17
# Kafka's defaults on one node; three nodes on two cores do with fewer (the figures of issue 17's trial).
THREADS_ALONE = {"network_threads": 3, "io_threads": 8}
THREADS_IN_CLUSTER = {"network_threads": 2, "io_threads": 2}


class KafkaBroker(LocalService):
    service = "kafka"

    @property
    def version(self) -> str:
        return self.settings.kafka_version

    @property
    def node_id(self) -> int:
        return self.node + 1

    @property
    def ports(self) -> dict[str, int]:
        return {
            "kafka_port": self.port(self.settings.kafka_port),
            "kafka_controller_port": self.port(self.settings.kafka_controller_port),
        }

    @cached_property
    def jdk(self) -> Jdk:
        return find_jdk(KAFKA_MINIMUM_JAVA, self.settings.java_home)

    @cached_property
    def classpath(self) -> list[Path]:
        pom = self.home / "pom.xml"
        write_from_template("kafka-pom.xml", pom, kafka_version=self.version)
        return maven.resolve_classpath(pom, self.home / f"classpath-{self.version}.txt", self.home / "maven.log")

    @property
    def _data_dir(self) -> Path:
        return self.home / "data"

    def server_properties(self) -> dict[str, object]:
        """The values of kafka-server.properties for this node."""
        settings = self.settings
        replication = replication_for(settings.service_nodes)
        if settings.local_cluster:
            voters = ",".join(f"{peer + 1}@127.0.0.1:{self._peer_controller_port(peer)}" for peer in self.peers)
            what, quorum = f"node {self.node_id} of {settings.service_nodes}", f"controller.quorum.voters={voters}"
        else:
            what, quorum = "a single node", f"controller.quorum.bootstrap.servers=127.0.0.1:{self.ports['kafka_controller_port']}"
        return {
            "what": what,
            "node_id": self.node_id,
            "quorum": quorum,
            "broker_port": self.ports["kafka_port"],
            "controller_port": self.ports["kafka_controller_port"],
            "data_dir": self._data_dir,
            "replication": replication,
            "min_insync": min_insync_for(replication),
            **(THREADS_IN_CLUSTER if settings.local_cluster else THREADS_ALONE),
            "max_message_bytes": settings.kafka_max_message_bytes,
        }

    def _peer_controller_port(self, peer: int) -> int:
        return KafkaBroker(self.settings, peer).ports["kafka_controller_port"]

    def install(self) -> None:
        """Resolve the broker's classpath, write its configuration, format its storage once."""
        _ = self.classpath  # resolved here, not at the first start
        write_from_template("kafka-server.properties", self.home / "server.properties", **self.server_properties())
        write_from_template("kafka-log4j2.properties", self.home / "log4j2.properties")
        if not (self._data_dir / "meta.properties").is_file():
            self._format_storage()

    def _cluster_id(self) -> str:
        """The id every node of the local cluster is formatted with, made by the first."""
        stored = self.settings.state_dir.resolve() / "kafka-cluster-id"
        if not stored.is_file():
            # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())
        return stored.read_text().strip()

    def _format_storage(self) -> None:
        formatted = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                # Static voters come from the configuration; one node is a quorum of its own.
                *([] if self.settings.local_cluster else ["--standalone"]),
                f"--cluster-id={self._cluster_id()}",  # one argument: an id may start with "-"
                "--config",
                str(self.home / "server.properties"),
            ],
            capture_output=True,
            text=True,
        )
        if formatted.returncode != 0:
            last_line = (formatted.stderr or formatted.stdout).strip().splitlines()[-1:]
            raise ServiceError(f"{self.name}: formatting the storage in {self._data_dir} failed: {' '.join(last_line)}")

    def _java(self) -> list[str]:
        return [
            str(self.jdk.java),
            f"-Xms{self.settings.kafka_heap}",
            f"-Xmx{self.settings.kafka_heap}",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            ":".join(str(jar) for jar in self.classpath),
        ]

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [*self._java(), "kafka.Kafka", str(self.home / "server.properties")], {}

    def probe(self, record: RunRecord) -> Health:
        port = record.ports["kafka_port"]
        if not port_open(port):
            return Health(False, f"port {port} is not listening yet")
        try:
            with quiet_loggers("kafka"):
                admin = _admin(f"127.0.0.1:{port}")
                try:
                    cluster = admin.describe_cluster()
                finally:
                    admin.close()
        except KafkaError as exc:
            return Health(False, f"no cluster metadata yet ({type(exc).__name__})")
        brokers = len(cluster["brokers"])
        # In a cluster, DescribeCluster names any broker as controller: the cluster's line names the real one.
        detail = (
            f"{brokers} brokers" if self.settings.local_cluster else f"{brokers} broker, controller {cluster['controller_id']}"
        )
        return Health(True, detail, record.version)


@dataclass(frozen=True)
class KafkaCluster:
    """What a cluster's metadata says of its health."""

    brokers: list[int]  # node ids of the live brokers (a dead one stays registered, fenced)
    controller: int | None  # node id of the metadata quorum's leader
    under_replicated: list[str]  # "topic/partition", in-sync replicas fewer than replicas
    offline: list[str]  # "topic/partition" without a leader

    def describe(self, expected_brokers: int) -> str:
        controller = "none" if self.controller is None else str(self.controller)
        text = (
            f"kafka cluster: {len(self.brokers)} of {expected_brokers} brokers ({', '.join(map(str, self.brokers))}), "
            f"controller {controller}, {len(self.under_replicated)} under-replicated partitions"
        )
        return text + (f", {len(self.offline)} offline: {', '.join(self.offline)}" if self.offline else "")


def read_cluster(described: dict[str, Any], quorum: dict[str, Any], topics: list[dict[str, Any]]) -> KafkaCluster:
    """A `KafkaCluster` from the admin client's describe_cluster, describe_metadata_quorum and describe_topics."""
    leaders = [partition["leader_id"] for topic in quorum["topics"] for partition in topic["partitions"]]
    under, offline = [], []
    for topic in topics:
        for partition in topic["partitions"]:
            place = f"{topic['name']}/{partition['partition_index']}"
            if partition["leader_id"] < 0:
                offline.append(place)
            if len(partition["isr_nodes"]) < len(partition["replica_nodes"]):
                under.append(place)
    return KafkaCluster(
        brokers=sorted(broker["broker_id"] for broker in described["brokers"] if not broker.get("is_fenced")),
        controller=leaders[0] if leaders and leaders[0] >= 0 else None,
        under_replicated=sorted(under),
        offline=sorted(offline),
    )


def describe_cluster(settings: Settings) -> KafkaCluster:
    """The cluster NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS reaches; raises KafkaError if none of it answers."""
    with quiet_loggers("kafka"):
        admin = _admin(settings.kafka_bootstrap_servers.split(","))
        try:
            return read_cluster(admin.describe_cluster(), admin.describe_metadata_quorum(), admin.describe_topics())
        finally:
            admin.close()


def _admin(bootstrap_servers: str | list[str]) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000, bootstrap_timeout_ms=5000)
