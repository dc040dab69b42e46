"""A 3-broker Kafka and a 3-node Elasticsearch cluster carry a run of 5,000 articles while their leaders are killed.

Services of their own (tests/pipeline_run.py: own state dir and ports, NEWSFLOW_SERVICE_NODES=3, so
topics of replication factor 3 with min.insync.replicas 2 and the index with 1 replica). The run's
articles, copies and poison records are published to news.raw at a steady pace, as ingest would, by
a thread of the test with the producer every stage uses; `newsflow worker transform --processes 2`
and `newsflow worker index` consume them. A second thread asks the search API (search.api, in
process) every 0.2 s throughout.

While they work, by SIGKILL, at a share of the articles indexed, and started again a while later
(nothing else is restarted: not the publisher, not a worker):
1. the Kafka controller (the leader of the metadata quorum);
2. a broker leading partitions of news.articles (not the controller of that moment);
3. the elected Elasticsearch master.

At the end, as in the fault suite: every article indexed once with the version produced, the copies
marked, the poison dead-lettered. Printed: the schedule, the longest gap between successful answers
of the API (goal: under 5 s), the duplicate records on news.articles (none: transform is exactly-once),
the peak RSS of the cluster's nodes and the run's length.
"""

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import TransportError
from elasticsearch import ApiError
from fastapi.testclient import TestClient

from newsflow import services
from newsflow.clients import elasticsearch_client, kafka_admin
from newsflow.services import elasticsearch_node, kafka_broker
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from search.api import create_app
from tests.helpers import read_topic, settings_of
from tests.pipeline_run import Pipeline, check_outcome, corpus, drained, lags, own_services, produce

pytestmark = pytest.mark.cluster

SEED = 17
PUBLISH_BATCH, PUBLISH_PAUSE = 50, 2.0  # about 25 records/s: publishing spans the faults
SEARCH_EVERY = 0.2


@pytest.fixture
def cluster_services():
    with own_services("newsflow-cluster-", nodes=3) as (env, home):
        yield env, home


class Searcher(threading.Thread):
    """Asks the API a search every SEARCH_EVERY seconds; remembers when it answered 200."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.app = create_app(settings)
        self.answers: list[float] = []
        self.failures: Counter[str] = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        with TestClient(self.app) as client:
            while not self.done.wait(SEARCH_EVERY):
                self.ask(client)

    def ask(self, client: TestClient) -> None:
        try:
            status = client.get("/search", params={"q": "parliament reform"}).status_code
        except Exception as exc:  # noqa: BLE001 - whatever fails is a failed answer, counted by its kind
            self.failures[type(exc).__name__] += 1
            return
        if status == 200:
            self.answers.append(time.monotonic())
        else:
            self.failures[str(status)] += 1

    def longest_gap(self) -> float:
        return max((later - earlier for earlier, later in zip(self.answers, self.answers[1:], strict=False)), default=0.0)


def cluster_peak_kib(settings: Settings) -> int:
    """RSS of every process of every running node now, summed."""
    groups = {record.pid for node in services.nodes(settings) if (record := node.running())}
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) in groups:
                total += _rss_kib(int(stat.parent.name))
    return total


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def kafka_controller(settings: Settings) -> str:
    controller = kafka_broker.describe_cluster(settings).controller
    assert controller is not None, "the metadata quorum has no leader"
    return f"kafka-{controller}"


def partition_leader(settings: Settings) -> str:
    """A broker leading a partition of news.articles that is not the controller."""
    controller = kafka_broker.describe_cluster(settings).controller
    admin = kafka_admin(settings)
    try:
        (topic,) = admin.describe_topics([settings.topic_articles])
    finally:
        admin.close()
    leaders = sorted({partition["leader_id"] for partition in topic["partitions"]} - {controller, -1})
    assert leaders, f"every partition of {settings.topic_articles} is led by the controller {controller}"
    return f"kafka-{leaders[0]}"


def elasticsearch_master(settings: Settings) -> str:
    master = elasticsearch_node.describe_cluster(settings).master
    assert master is not None, "no elected master"
    return master.replace("newsflow-", "elasticsearch-")  # node names count from 1, like the services' nodes


def duplicates_on(settings: Settings, topic: str) -> int:
    """Records of `topic` beyond the first of each (key, value): what a consumer other than the indexer sees twice."""
    seen = Counter((record.key, record.value) for record in read_topic(settings, topic))
    return sum(count - 1 for count in seen.values())


def test_killing_the_controller_a_leader_and_the_master_loses_nothing_and_the_api_answers(cluster_services, capsys):
    env, home = cluster_services
    settings = settings_of(env)
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas, settings.index_replicas) == (3, 2, 1)
    rng = random.Random(SEED)
    articles, copies, poison = corpus(rng)
    ensure_topics(settings)
    expected = len(articles) + len(copies)

    poison_places: dict[tuple[int, int], str] = {}
    publisher = threading.Thread(
        target=lambda: poison_places.update(produce(settings, articles + copies, poison, PUBLISH_BATCH, PUBLISH_PAUSE)),
        daemon=True,
    )
    # (share of the articles indexed, what is done, whom it is done to, chosen at that moment)
    plan: list[tuple[float, str, Callable[[Settings], str] | None]] = [
        (0.10, "kill", kafka_controller),
        (0.25, "restart", None),
        (0.40, "kill", partition_leader),
        (0.55, "restart", None),
        (0.65, "kill", elasticsearch_master),
        (0.80, "restart", None),
    ]
    schedule: list[str] = []
    pipeline = Pipeline(env, home, settings, rng)
    searcher = Searcher(settings)
    es = elasticsearch_client(settings, request_timeout=10)
    run: dict[str, Any] = {"produced": expected + len(poison)}
    started = time.monotonic()
    publisher.start()
    searcher.start()
    peak_kib = 0
    try:
        indexed, victim = 0, ""
        while True:
            time.sleep(1)
            pipeline.measure()
            peak_kib = max(peak_kib, cluster_peak_kib(settings))
            with suppress(ApiError, TransportError):  # the index not created yet, or a node away
                indexed = es.count(index=settings.index_alias)["count"]
            if plan and indexed >= plan[0][0] * expected:
                _, action, choose = plan.pop(0)
                if choose is not None:
                    victim = choose(settings)
                    pipeline.kill_service(victim)
                else:
                    pipeline.restart_service(victim)
                schedule.append(f"{action} {victim} at {indexed} indexed ({time.monotonic() - started:.0f} s)")
            if not plan and not publisher.is_alive() and indexed >= expected and drained(settings):
                break
            if time.monotonic() - started >= 1500:
                pytest.fail(f"not drained after 25 min: {indexed} of {expected} indexed, records left: {lags(settings)}")
        run["seconds"] = round(time.monotonic() - started)
    finally:
        searcher.done.set()
        searcher.join()
        run["workers stopped on SIGTERM"] = pipeline.stop()
        run["faults"] = schedule
        run["API answers"] = len(searcher.answers)
        run["API failures"] = dict(searcher.failures)
        run["API longest gap between answers (s, goal < 5)"] = round(searcher.longest_gap(), 2)
        run["peak RSS MiB"] = {
            "cluster (3 Kafka + 3 Elasticsearch nodes)": round(peak_kib / 1024),
            **{name: round(kib / 1024) for name, kib in pipeline.peak_kib.items()},
        }
        with capsys.disabled():
            print("\ncluster suite, the run:", json.dumps(run, indent=1))

    with capsys.disabled():
        duplicates = duplicates_on(settings, settings.topic_articles)
        print(f"cluster suite: duplicate records on {settings.topic_articles}: {duplicates}")
        assert duplicates == 0, f"{duplicates} duplicate records on {settings.topic_articles}"
        check_outcome(es, settings, articles, copies, poison_places, "cluster suite")
    assert run["workers stopped on SIGTERM"]
