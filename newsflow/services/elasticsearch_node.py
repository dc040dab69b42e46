"""Elasticsearch 9 as one development node, or one node of a local cluster: the integ-test distribution from Maven Central.

That distribution is small (see docs/elasticsearch-local.md for what it has and lacks) and
carries no JDK, so it runs on an installed JDK ≥ 21. It lacks text analysis beyond the standard
analyzer: newsflow's analysis plugin (newsflow/services/analysis_plugin.py) is built and installed
into it before it starts. Elasticsearch refuses to run as root: started by root, it runs as a
dedicated unprivileged system user.

Each node of a local cluster has its own distribution (and so its own copy of the plugin), data and
logs under its folder; the nodes find each other through every node's transport port on loopback
(`discovery.seed_hosts`) and elect the first master among all of them (`cluster.initial_master_nodes`).
`describe_cluster` reads what `newsflow services status` shows of a cluster: its health, nodes,
elected master and unassigned shards.
"""

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from newsflow.clients import elasticsearch_client
from newsflow.errors import PrerequisiteMissing, ServiceError
from newsflow.services import analysis_plugin, maven
from newsflow.services.base import Health, LocalService, RunRecord, port_open, quiet_loggers, write_from_template
from newsflow.services.jdk import Jdk, find_jdk
from newsflow.settings import Settings

ELASTICSEARCH_MINIMUM_JAVA = 21
DISTRIBUTION = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"


class ElasticsearchNode(LocalService):
    service = "elasticsearch"

    @property
    def version(self) -> str:
        return self.settings.elasticsearch_version

    @property
    def ports(self) -> dict[str, int]:
        return {
            "elasticsearch_port": self.port(self.settings.elasticsearch_port),
            "elasticsearch_transport_port": self.port(self.settings.elasticsearch_transport_port),
        }

    @property
    def node_name(self) -> str:
        return f"newsflow-{self.node + 1}" if self.settings.local_cluster else "newsflow-local"

    @cached_property
    def jdk(self) -> Jdk:
        return find_jdk(ELASTICSEARCH_MINIMUM_JAVA, self.settings.java_home)

    @property
    def distribution(self) -> Path:
        return self.home / "dist" / f"elasticsearch-{self.version}"

    def run_as(self) -> str | None:
        return self.settings.elasticsearch_user if os.geteuid() == 0 else None

    def install(self) -> None:
        """Unpack the distribution once, install the analysis plugin, write the configuration, hand the files to the user."""
        _ = self.jdk  # fail before a download when no JDK can run it
        if not (self.distribution / "bin" / "elasticsearch").is_file():
            maven.unpack(DISTRIBUTION.format(version=self.version), self.home / "dist", self.home / "maven.log")
        analysis_plugin.install(
            self.distribution, self.version, self.jdk, ELASTICSEARCH_MINIMUM_JAVA, self.home / "analysis-plugin"
        )
        write_from_template("elasticsearch.yml", self.distribution / "config" / "elasticsearch.yml", **self.node_config())
        for folder in (self.home / "data", self.home / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        user = self.run_as()
        if user is not None:
            self._hand_over_to(user)

    def node_config(self) -> dict[str, object]:
        """The values of elasticsearch.yml for this node."""
        if self.settings.local_cluster:
            peers = [ElasticsearchNode(self.settings, peer) for peer in self.peers]
            seeds = ", ".join(f'"127.0.0.1:{peer.ports["elasticsearch_transport_port"]}"' for peer in peers)
            masters = ", ".join(f'"{peer.node_name}"' for peer in peers)
            what = f"node {self.node + 1} of {self.settings.service_nodes} of a cluster"
            discovery = (
                f"discovery.seed_hosts: [{seeds}]\n"
                f"cluster.initial_master_nodes: [{masters}]\n"
                "# The nodes share the machine's cores: each sizes its thread pools for one.\n"
                "node.processors: 1"
            )
        else:
            what, discovery = "one development node", "discovery.type: single-node"
        return {
            "what": what,
            "node_name": self.node_name,
            "http_port": self.ports["elasticsearch_port"],
            "transport_port": self.ports["elasticsearch_transport_port"],
            "discovery": discovery,
            "data_dir": self.home / "data",
            "logs_dir": self.home / "logs",
        }

    def _hand_over_to(self, user: str) -> None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            if shutil.which("useradd") is None:
                raise PrerequisiteMissing(f"elasticsearch: cannot create system user {user!r}: useradd not found") from None
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                check=True,
                capture_output=True,
            )
        subprocess.run(["chown", "-R", f"{user}:", str(self.home)], check=True, capture_output=True)
        launcher = self.distribution / "bin" / "elasticsearch"
        if subprocess.run(["test", "-x", str(launcher)], user=user).returncode != 0:
            raise ServiceError(
                f"elasticsearch runs as system user {user!r} (it refuses root), who cannot reach {launcher}: "
                "set NEWSFLOW_STATE_DIR to a folder outside private ones such as /root"
            )

    def command(self) -> tuple[list[str], dict[str, str]]:
        heap = self.settings.elasticsearch_heap
        return [str(self.distribution / "bin" / "elasticsearch")], {
            "ES_JAVA_HOME": str(self.jdk.home),
            "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        }

    def probe(self, record: RunRecord) -> Health:
        port = record.ports["elasticsearch_port"]
        if not port_open(port):
            return Health(False, f"port {port} is not listening yet")
        client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=5)
        try:
            with quiet_loggers("elastic_transport", "elasticsearch"):
                health = client.cluster.health()
                nodes = client.nodes.info(filter_path="nodes.*.version")
        except (ApiError, TransportError) as exc:
            return Health(False, f"no cluster health yet ({type(exc).__name__})")
        finally:
            client.close()
        status = health["status"]
        versions = sorted({node["version"] for node in nodes["nodes"].values()})
        return Health(status in ("green", "yellow"), f"cluster {status}", ", ".join(versions))


@dataclass(frozen=True)
class ElasticsearchCluster:
    """What a cluster's health and its elected master say."""

    status: str  # green, yellow, red
    nodes: list[str]
    master: str | None
    unassigned_shards: int

    def describe(self, expected_nodes: int) -> str:
        return (
            f"elasticsearch cluster: {self.status}, {len(self.nodes)} of {expected_nodes} nodes ({', '.join(self.nodes)}), "
            f"master {self.master or 'none'}, {self.unassigned_shards} unassigned shards"
        )


def read_cluster(health: dict[str, Any], state: dict[str, Any]) -> ElasticsearchCluster:
    """An `ElasticsearchCluster` from `_cluster/health` and `_cluster/state/master_node,nodes`."""
    nodes = state["nodes"]
    master = state.get("master_node")
    return ElasticsearchCluster(
        status=health["status"],
        nodes=sorted(node["name"] for node in nodes.values()),
        master=nodes[master]["name"] if master in nodes else None,
        unassigned_shards=health["unassigned_shards"],
    )


def describe_cluster(settings: Settings) -> ElasticsearchCluster:
    """The cluster NEWSFLOW_ELASTICSEARCH_URL reaches; raises ApiError or TransportError if none of it answers."""
    client = elasticsearch_client(settings, request_timeout=5)
    try:
        with quiet_loggers("elastic_transport", "elasticsearch"):
            return read_cluster(dict(client.cluster.health()), dict(client.cluster.state(metric="master_node,nodes")))
    finally:
        client.close()
