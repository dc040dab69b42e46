"""Crashes during a run of 5,000 articles lose nothing and store nothing twice (the run: tests/pipeline_run.py).

A Kafka broker and an Elasticsearch node of their own (own state dir and ports: they are killed)
carry 5,000 articles, 50 syndicated copies and 30 poison records through `newsflow worker
transform --processes 2` and `newsflow worker index`. While they work, each of these is killed
once with SIGKILL, at a random moment (the seed is printed), and started again: a transform
worker process (its supervisor restarts it), the indexer, the broker, Elasticsearch. At the end:

- the index holds exactly the expected articles, each with the content and version produced
  (a copy indexed before its original gets one partial update: its story re-pointed to the original);
- the copies are near-duplicates of their originals, and nothing else is;
- news.dlq holds exactly the poison records (by their place on news.raw), with their reasons;
- produced = indexed + duplicates + dead-lettered.

The figures (articles in and out, dead letters by reason, letters delivered twice, peak memory
of the workers, the fault schedule) are printed whatever the outcome.
"""

import json
import os
import random
import time
from contextlib import suppress
from typing import Any

import pytest
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from newsflow.topics import ensure_topics
from tests.helpers import settings_of
from tests.pipeline_run import Pipeline, check_outcome, corpus, drained, lags, own_services, produce

pytestmark = pytest.mark.faults


@pytest.fixture
def fault_services():
    """Kafka and Elasticsearch of their own, on free ports, stopped and wiped afterwards."""
    with own_services("newsflow-faults-", NEWSFLOW_ELASTICSEARCH_HEAP="512m") as (env, home):
        yield env, home


FAULT_SPACING = 20.0


def test_killing_each_component_once_loses_nothing_and_stores_nothing_twice(fault_services, capsys):
    env, home = fault_services
    seed = int(os.environ.get("NEWSFLOW_FAULTS_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    articles, copies, poison = corpus(rng)
    settings = settings_of(env)
    ensure_topics(settings)
    poison_places = produce(settings, articles + copies, poison)
    produced = len(articles) + len(copies) + len(poison)

    faults = ["transform process", "indexer", "kafka", "elasticsearch"]
    rng.shuffle(faults)
    moments = sorted(rng.uniform(0.1, 0.8) for _ in faults)  # share of the articles indexed when each strikes
    schedule: list[str] = []
    pipeline = Pipeline(env, home, settings, rng)
    started = struck = time.monotonic()
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=10)
    run: dict[str, Any] = {"seed": seed, "produced": produced}  # printed as JSON
    try:
        expected = len(articles) + len(copies)
        indexed = 0
        while True:
            time.sleep(1)
            pipeline.measure()
            with suppress(ApiError, TransportError):  # Elasticsearch down or restarting, or the index not created yet
                indexed = es.count(index=settings.index_alias)["count"]
            # One fault at a time: the next strikes once the last one's component had FAULT_SPACING seconds
            # to start again (a restarted indexer that finds Kafka killed before it connected exits).
            if faults and indexed >= moments[len(schedule)] * expected and time.monotonic() - struck >= FAULT_SPACING:
                struck = time.monotonic()
                fault = faults.pop(0)
                schedule.append(f"{fault} at {indexed} indexed ({time.monotonic() - started:.0f} s)")
                pipeline.kill(fault)
            if not faults and indexed >= expected and drained(settings):
                break
            if time.monotonic() - started >= 1200:
                pytest.fail(f"not drained after 20 min: {indexed} of {expected} indexed, records left: {lags(settings)}")
        run["seconds"] = round(time.monotonic() - started)
    finally:
        run["workers stopped on SIGTERM"] = pipeline.stop()
        run["faults"] = schedule
        run["peak RSS MiB"] = {name: round(kib / 1024) for name, kib in pipeline.peak_kib.items()}
        with capsys.disabled():
            print("\nfault suite, the run:", json.dumps(run, indent=1))

    with capsys.disabled():
        check_outcome(es, settings, articles, copies, poison_places, "fault suite")
    assert run["workers stopped on SIGTERM"]
