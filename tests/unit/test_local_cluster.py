"""Local clusters as pure logic: the port layout, the derived defaults, each node's configuration, the names
`services` commands take, and what `services status` reads from a cluster's metadata."""

import os
from pathlib import Path
from typing import Any

import pytest

from newsflow import services
from newsflow.errors import ConfigError
from newsflow.services.base import render_template
from newsflow.services.elasticsearch_node import ElasticsearchNode
from newsflow.services.elasticsearch_node import read_cluster as read_elasticsearch
from newsflow.services.kafka_broker import KafkaBroker
from newsflow.services.kafka_broker import read_cluster as read_kafka
from newsflow.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def no_newsflow_environment(monkeypatch):
    """Defaults are what these tests check: whatever NEWSFLOW_* the shell has set is set aside."""
    for name in [name for name in os.environ if name.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(name)


def cluster(**values: Any) -> Settings:
    return Settings(service_nodes=3, state_dir=Path("/srv/state"), **values)


def test_one_node_keeps_todays_defaults():
    settings = Settings()
    assert (settings.kafka_bootstrap_servers, settings.elasticsearch_url) == ("127.0.0.1:9092", "http://127.0.0.1:9200")
    assert (settings.kafka_heap, settings.elasticsearch_heap) == ("256m", "1g")
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas, settings.index_replicas) == (1, 1, 0)


def test_a_cluster_of_three_reaches_every_node_and_replicates():
    settings = cluster()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9102,127.0.0.1:9112"
    assert settings.elasticsearch_urls == ["http://127.0.0.1:9200", "http://127.0.0.1:9210", "http://127.0.0.1:9220"]
    assert (settings.kafka_heap, settings.elasticsearch_heap) == ("256m", "512m")
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas, settings.index_replicas) == (3, 2, 1)


def test_values_set_explicitly_win_over_the_cluster_defaults(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_SERVICE_NODES", "3")
    monkeypatch.setenv("NEWSFLOW_INDEX_REPLICAS", "0")
    monkeypatch.setenv("NEWSFLOW_TOPIC_REPLICATION_FACTOR", "2")
    monkeypatch.setenv("NEWSFLOW_KAFKA_HEAP", "1g")
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "kafka-a:9092,kafka-b:9092")
    settings = load_settings()
    assert (settings.index_replicas, settings.topic_replication_factor, settings.topic_min_insync_replicas) == (0, 2, 1)
    assert (settings.kafka_heap, settings.kafka_bootstrap_servers) == ("1g", "kafka-a:9092,kafka-b:9092")


def test_ports_that_two_nodes_would_share_are_refused():
    # node 1's broker port (9102) would be node 0's controller port
    with pytest.raises(ConfigError, match="NEWSFLOW_KAFKA_PORT and NEWSFLOW_KAFKA_CONTROLLER_PORT both give port 9102"):
        cluster(kafka_controller_port=9102)
    with pytest.raises(ConfigError, match="NEWSFLOW_ELASTICSEARCH_PORT=65530 gives local node 2 port 65540"):
        cluster(elasticsearch_port=65530)
    assert Settings(kafka_controller_port=9102).kafka_controller_port == 9102  # one node: no neighbours


def test_min_insync_replicas_above_the_replication_factor_is_refused():
    with pytest.raises(ConfigError, match="NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS=2 exceeds NEWSFLOW_TOPIC_REPLICATION_FACTOR=1"):
        Settings(topic_min_insync_replicas=2)


def test_the_credentials_of_several_urls_are_taken_out_once():
    settings = Settings(elasticsearch_url="http://reader:s3cret@es-a:9200,http://reader:s3cret@es-b:9200")
    assert settings.elasticsearch_urls == ["http://es-a:9200", "http://es-b:9200"]
    assert (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value()) == ("reader", "s3cret")
    with pytest.raises(ConfigError, match="different credentials"):
        Settings(elasticsearch_url="http://a:1@es-a:9200,http://b:2@es-b:9200")


def test_nodes_are_named_and_housed_by_their_index():
    assert [node.name for node in services.nodes(Settings(state_dir=Path("/srv/state")))] == ["kafka", "elasticsearch", "redis"]
    nodes = services.nodes(cluster())
    assert [node.name for node in nodes] == [f"{kind}-{i}" for kind in ("kafka", "elasticsearch") for i in (1, 2, 3)] + ["redis"]
    assert nodes[1].home == Path("/srv/state/kafka-2")
    assert nodes[1].ports == {"kafka_port": 9102, "kafka_controller_port": 9103}
    assert nodes[5].ports == {"elasticsearch_port": 9220, "elasticsearch_transport_port": 9320}


def test_a_name_picks_a_service_or_one_node_of_it():
    settings = cluster()
    assert [node.name for node in services.select(settings, ["kafka"])] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [node.name for node in services.select(settings, ["elasticsearch-2"])] == ["elasticsearch-2"]
    with pytest.raises(ConfigError, match="unknown service 'kafka-4': choose among kafka, elasticsearch, redis, kafka-1"):
        services.select(settings, ["kafka-4"])
    with pytest.raises(ConfigError, match=r"choose among kafka, elasticsearch, redis$"):
        services.select(Settings(), ["kafka-1"])


def test_redis_runs_one_node_and_only_when_named(tmp_path):
    settings = cluster().model_copy(update={"state_dir": tmp_path})  # nothing runs there
    assert [node.name for node in services.select(settings)] == [
        f"{kind}-{i}" for kind in ("kafka", "elasticsearch") for i in (1, 2, 3)
    ]
    (redis,) = services.select(settings, ["redis"])
    assert (redis.name, redis.home, redis.ports) == ("redis", tmp_path / "redis", {"redis_port": 6379})


def test_one_kafka_node_is_a_quorum_of_its_own():
    text = render_template("kafka-server.properties", **KafkaBroker(Settings(state_dir=Path("/srv/state"))).server_properties())
    assert "node.id=1\ncontroller.quorum.bootstrap.servers=127.0.0.1:9093\n" in text
    assert "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n" in text
    assert (
        "offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
        in text
    )
    assert "num.network.threads=3\nnum.io.threads=8\n" in text
    assert "log.dirs=/srv/state/kafka/data\n" in text


def test_the_kafka_nodes_of_a_cluster_are_static_voters_with_fewer_threads():
    text = render_template("kafka-server.properties", **KafkaBroker(cluster(), 1).server_properties())
    assert "node.id=2\ncontroller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9103,3@127.0.0.1:9113\n" in text
    assert "listeners=PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9103\n" in text
    assert (
        "offsets.topic.replication.factor=3\ntransaction.state.log.replication.factor=3\ntransaction.state.log.min.isr=2\n"
        in text
    )
    assert "share.coordinator.state.topic.min.isr=2\n" in text
    assert "num.network.threads=2\nnum.io.threads=2\n" in text
    assert "log.dirs=/srv/state/kafka-2/data\n" in text


def test_one_elasticsearch_node_discovers_nobody():
    text = render_template("elasticsearch.yml", **ElasticsearchNode(Settings(state_dir=Path("/srv/state"))).node_config())
    assert "node.name: newsflow-local\n" in text
    assert "http.port: 9200\ntransport.port: 9300\ndiscovery.type: single-node\n" in text
    assert "seed_hosts" not in text and "node.processors" not in text


def test_the_elasticsearch_nodes_of_a_cluster_find_each_other_on_loopback():
    text = render_template("elasticsearch.yml", **ElasticsearchNode(cluster(), 2).node_config())
    assert "node.name: newsflow-3\n" in text
    assert "http.port: 9220\ntransport.port: 9320\n" in text
    assert 'discovery.seed_hosts: ["127.0.0.1:9300", "127.0.0.1:9310", "127.0.0.1:9320"]\n' in text
    assert 'cluster.initial_master_nodes: ["newsflow-1", "newsflow-2", "newsflow-3"]\n' in text
    assert "node.processors: 1\n" in text
    assert "path.data: /srv/state/elasticsearch-3/data\n" in text


def partition(index: int, leader: int, replicas: list[int], isr: list[int]) -> dict:
    return {"partition_index": index, "leader_id": leader, "replica_nodes": replicas, "isr_nodes": isr}


def test_kafka_status_names_the_quorum_leader_and_the_partitions_short_of_replicas():
    described = {
        "controller_id": 3,  # any broker, in KRaft: not what status shows
        "brokers": [
            {"broker_id": 1, "is_fenced": False},
            {"broker_id": 2, "is_fenced": True},
            {"broker_id": 3, "is_fenced": False},
        ],
    }
    quorum = {"topics": [{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0, "leader_id": 1}]}]}
    topics = [
        {"name": "news.raw", "partitions": [partition(0, 1, [1, 2, 3], [1, 3]), partition(1, 3, [3, 1, 2], [3, 1, 2])]},
        {"name": "news.dlq", "partitions": [partition(0, -1, [2], [])]},
    ]
    state = read_kafka(described, quorum, topics)
    assert (state.brokers, state.controller, state.under_replicated, state.offline) == (
        [1, 3],
        1,
        ["news.dlq/0", "news.raw/0"],
        ["news.dlq/0"],
    )
    assert state.describe(3) == (
        "kafka cluster: 2 of 3 brokers (1, 3), controller 1, 2 under-replicated partitions, 1 offline: news.dlq/0"
    )


def test_elasticsearch_status_names_the_elected_master_and_the_unassigned_shards():
    health = {"status": "yellow", "unassigned_shards": 2}
    state = {"master_node": "b7", "nodes": {"a1": {"name": "newsflow-1"}, "b7": {"name": "newsflow-3"}}}
    assert read_elasticsearch(health, state).describe(3) == (
        "elasticsearch cluster: yellow, 2 of 3 nodes (newsflow-1, newsflow-3), master newsflow-3, 2 unassigned shards"
    )
    assert read_elasticsearch(health, {"nodes": {}}).master is None
