"""Through a real Elasticsearch outage: the indexer waits, resumes and loses nothing; the API says 503.

A second Elasticsearch node of its own (own state dir and ports) is stopped while the indexer
runs and articles arrive, then started again.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import ApiError, Elasticsearch, TransportError
from fastapi.testclient import TestClient

from newsflow.clients import kafka_admin, kafka_producer
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from search.api import create_app
from tests.articles import SEED, T0, article
from tests.helpers import free_port, run_newsflow, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def own_node(local_services: Settings):
    # Elasticsearch runs as an unprivileged user when the tests run as root: its folder must be
    # reachable by that user, which pytest's private tmp_path is not.
    home = Path(tempfile.mkdtemp(prefix="newsflow-outage-"))
    home.chmod(0o755)
    port = free_port()
    env = {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(home / "state"),
        "NEWSFLOW_ELASTICSEARCH_PORT": str(port),
        "NEWSFLOW_ELASTICSEARCH_TRANSPORT_PORT": str(free_port()),
        "NEWSFLOW_ELASTICSEARCH_HEAP": "512m",
    }
    up = run_newsflow("services", "up", "elasticsearch", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    yield env, Elasticsearch(f"http://127.0.0.1:{port}")
    run_newsflow("services", "down", "elasticsearch", env=env)
    shutil.rmtree(home, ignore_errors=True)


def test_the_indexer_waits_for_elasticsearch_and_then_indexes_everything(local_services, own_node):
    env, es = own_node
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = local_services.model_copy(
        update={"topic_raw": f"{prefix}.raw", "topic_articles": f"{prefix}.articles", "topic_dlq": f"{prefix}.dlq"}
    )
    env = {
        **env,
        "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_INDEX_GROUP": prefix,
        "NEWSFLOW_INDEX_ALIAS": prefix,
        "NEWSFLOW_INDEX_RETRY_MAX_SECONDS": "2",
    }
    ensure_topics(settings)
    articles = [
        article(n, SEED.replace("Orda.kz reports", f"Orda.kz reports ({n})"), seen=T0 + timedelta(minutes=n)) for n in range(20)
    ]
    producer = kafka_producer(settings)

    def publish(batch):
        for item in batch:
            producer.send(settings.topic_articles, key=item.key(), value=item.model_dump_json().encode())
        producer.flush()

    indexer = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "worker", "index"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        publish(articles[:10])
        wait_for(lambda: count(es, prefix) == 10)
        assert run_newsflow("services", "down", "elasticsearch", env=env).returncode == 0  # the outage
        publish(articles[10:])
        searching = settings.model_copy(
            update={"elasticsearch_url": es.transport.node_pool.get().base_url, "index_alias": prefix}
        )
        with TestClient(create_app(searching)) as api:  # meanwhile, people searching are told plainly
            answer = api.get("/search", params={"q": "reform"})
            assert answer.status_code == 503 and "Elasticsearch is unavailable" in answer.json()["detail"]
        time.sleep(5)  # the indexer meets the outage and waits
        assert run_newsflow("services", "up", "elasticsearch", env=env).returncode == 0
        wait_for(lambda: count(es, prefix) == 20)
    finally:
        os.killpg(indexer.pid, signal.SIGTERM)
        output = indexer.communicate(timeout=60)[0].decode()
        print(output)  # shown by pytest when the test fails
        producer.close()
        admin = kafka_admin(settings)
        admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
        admin.close()
    assert indexer.returncode == 0, output
    assert "Elasticsearch unavailable" in output


def count(es: Elasticsearch, alias: str) -> int:
    try:
        es.indices.refresh(index=alias)
        return es.count(index=alias)["count"]
    except (ApiError, TransportError):  # the index is not there yet, or the node is down
        return -1
