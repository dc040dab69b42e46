"""Crashes during a run of 5,000 articles lose nothing and store nothing twice.

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
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from ingest.contract import Discovery, RawArticle
from newsflow import services
from newsflow.clients import kafka_consumer, kafka_producer
from newsflow.deadletters import DeadLetter
from newsflow.ops.demo.site import article_page
from newsflow.ops.status import Probe
from newsflow.topics import ensure_topics, read_all
from search.index import version
from tests.helpers import run_newsflow, settings_of, transform_processes

pytestmark = pytest.mark.faults

ARTICLES, COPIES = 5000, 50
POISON = {"not_json": 10, "schema_violation": 10, "too_short": 10}
T0 = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = [
    "parliament",
    "reform",
    "budget",
    "minister",
    "oil",
    "grain",
    "harvest",
    "tenge",
    "inflation",
    "railway",
    "metro",
    "festival",
    "election",
    "court",
    "energy",
    "water",
    "region",
    "school",
    "hospital",
    "airport",
    "border",
    "trade",
    "export",
    "bank",
    "river",
    "mountain",
    "steppe",
    "weather",
    "winter",
    "concert",
    "stadium",
    "museum",
    "village",
    "factory",
    "president",
    "senate",
    "deputy",
    "governor",
    "mayor",
    "city",
    "road",
    "bridge",
    "tunnel",
    "train",
    "bus",
    "tram",
    "ferry",
    "port",
    "pipeline",
    "field",
    "mine",
    "coal",
    "gas",
    "wind",
    "solar",
    "grid",
    "price",
    "wage",
    "pension",
    "tax",
    "loan",
    "credit",
    "market",
    "share",
    "stock",
    "bond",
    "fund",
    "investor",
    "company",
    "startup",
    "farmer",
    "teacher",
    "doctor",
    "student",
    "judge",
    "police",
    "army",
    "team",
    "coach",
    "player",
    "match",
    "season",
    "record",
    "crowd",
    "film",
    "theatre",
    "book",
]


def raw_article(n: int, title: str, paragraphs: list[str], source: str, seen: datetime) -> RawArticle:
    url = f"https://{source}.example/news/{n}"
    return RawArticle(
        article_id=f"{n:064x}",
        source_id=source,
        url=url,
        canonical_url=url,
        fetched_at=seen,
        first_seen_at=seen,
        status=200,
        headers={},
        content_type="text/html",
        encoding="utf-8",
        html=article_page(title, paragraphs, "Staff Writer").decode(),
        discovery=Discovery(kind="feed", listing_url=f"https://{source}.example/rss", published_at=seen),
    )


def corpus(rng: random.Random) -> tuple[list[RawArticle], list[RawArticle], list[tuple[str, bytes]]]:
    """The articles, their syndicated copies, and the poison records with the reason each must get."""

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "."

    articles = [
        raw_article(
            n,
            f"Story {n}: {sentence()}",
            [" ".join(sentence() for _ in range(4)) for _ in range(3)],
            "wire",
            T0 + timedelta(seconds=n),
        )
        for n in range(ARTICLES)
    ]
    copies = []
    for n in rng.sample(range(ARTICLES), COPIES):
        original = articles[n]
        page = original.html.replace("<nav>", "<nav><a href='/partners'>Partners</a>")
        copies.append(
            original.model_copy(
                update={
                    "article_id": f"{ARTICLES + n:064x}",
                    "source_id": "reprints",
                    "url": f"https://reprints.example/{n}",
                    "canonical_url": f"https://reprints.example/{n}",
                    "html": page,
                    "first_seen_at": original.first_seen_at + timedelta(hours=1),
                    "fetched_at": original.fetched_at + timedelta(hours=1),
                    "discovery": original.discovery.model_copy(
                        update={"published_at": original.first_seen_at + timedelta(hours=1)}
                    ),
                }
            )
        )
    poison = [("not_json", b"{ not json")] * POISON["not_json"]
    poison += [("schema_violation", b'{"schema_version": 1, "article_id": "x"}')] * POISON["schema_violation"]
    poison += [
        ("too_short", raw_article(10**6 + i, "Brief", ["Too short to be news."], "wire", T0).model_dump_json().encode())
        for i in range(POISON["too_short"])
    ]
    return articles, copies, poison


class Pipeline:
    """The workers as child processes, and the faults done to them and to the services."""

    def __init__(self, env: dict[str, str], home: Path, settings, rng: random.Random) -> None:
        self.env, self.home, self.settings, self.rng = env, home, settings, rng
        self.transform = self._worker("transform", "--processes", "2")
        self.index = self._worker("index")
        self.peak_kib: Counter[str] = Counter()

    def _worker(self, *arguments: str) -> subprocess.Popen:
        log = (self.home / f"{arguments[0]}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "newsflow", "worker", *arguments],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def measure(self) -> None:
        """Remember the peak RSS of each worker process seen so far."""
        for name, pids in (
            ("transform process", transform_processes(self.transform.pid)),
            ("indexer", [self.index.pid]),
            ("transform supervisor", [self.transform.pid]),
        ):
            for pid in pids:
                self.peak_kib[name] = max(self.peak_kib[name], _peak_rss_kib(pid))

    def kill(self, fault: str) -> None:
        if fault == "transform process":
            os.kill(self.rng.choice(transform_processes(self.transform.pid)), signal.SIGKILL)  # the supervisor restarts it
        elif fault == "indexer":
            os.killpg(self.index.pid, signal.SIGKILL)
            self.index.wait()
            self.index = self._worker("index")
        else:
            (service,) = services.select(self.settings, [fault])
            group = service.running().pid
            os.killpg(group, signal.SIGKILL)
            _wait_gone(group)  # its node lock and ports are free only once every process of it is gone
            up = run_newsflow("services", "up", fault, env=self.env)
            assert up.returncode == 0, up.stdout + up.stderr

    def stop(self) -> bool:
        """SIGTERM to the workers; True if both exited in time (they are killed otherwise)."""
        graceful = True
        for worker in (self.transform, self.index):
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(120)
                except subprocess.TimeoutExpired:
                    graceful = False
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
        return graceful


def _wait_gone(group: int, timeout: float = 60) -> None:
    """Until no live process is left in the process group (zombies do not count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            alive = alive or (int(fields[2]) == group and fields[0] != "Z")
        if not alive:
            return
        time.sleep(0.2)
    raise AssertionError(f"process group {group} still alive {timeout:g} s after SIGKILL")


def _peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def test_killing_each_component_once_loses_nothing_and_stores_nothing_twice(own_services, capsys):
    env, home = own_services
    seed = int(os.environ.get("NEWSFLOW_FAULTS_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    articles, copies, poison = corpus(rng)
    settings = settings_of(env)
    ensure_topics(settings)
    producer = kafka_producer(settings)
    sent = [producer.send(settings.topic_raw, key=raw.key(), value=raw.model_dump_json().encode()) for raw in articles + copies]
    poison_sent = [
        (reason, producer.send(settings.topic_raw, key=f"poison-{i}".encode(), value=value))
        for i, (reason, value) in enumerate(poison)
    ]
    producer.flush()
    producer.close()
    assert all(future.succeeded() for future in sent)
    poison_places = {(meta.partition, meta.offset): reason for reason, future in poison_sent for meta in [future.get()]}
    produced = len(articles) + len(copies) + len(poison)

    faults = ["transform process", "indexer", "kafka", "elasticsearch"]
    rng.shuffle(faults)
    moments = sorted(rng.uniform(0.1, 0.8) for _ in faults)  # share of the articles indexed when each strikes
    schedule: list[str] = []
    pipeline = Pipeline(env, home, settings, rng)
    started = time.monotonic()
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
            if faults and indexed >= moments[len(schedule)] * expected:
                fault = faults.pop(0)
                schedule.append(f"{fault} at {indexed} indexed ({time.monotonic() - started:.0f} s)")
                pipeline.kill(fault)
            if not faults and indexed >= expected and _drained(settings):
                break
            assert time.monotonic() - started < 1200, f"not drained after 20 min: {indexed} of {expected} indexed"
        run["seconds"] = round(time.monotonic() - started)
    finally:
        run["workers stopped on SIGTERM"] = pipeline.stop()
        run["faults"] = schedule
        run["peak RSS MiB"] = {name: round(kib / 1024) for name, kib in pipeline.peak_kib.items()}
        with capsys.disabled():
            print("\nfault suite, the run:", json.dumps(run, indent=1))

    es.indices.refresh(index=settings.index_alias)
    documents = _all_documents(es, settings.index_alias)
    wanted = {raw.article_id: raw for raw in articles + copies}
    letters = [
        (record.partition, record.offset, DeadLetter.model_validate_json(record.value))
        for record in _read(settings, settings.topic_dlq)
    ]
    by_origin = {(letter.origin.partition, letter.origin.offset): letter.reason for _, _, letter in letters}
    duplicates = {doc_id: source["duplicate_of"] for doc_id, source in documents.items() if source["duplicate_of"]}
    outcome: dict[str, Any] = {
        "indexed": len(documents) - len(duplicates),
        "duplicates": len(duplicates),
        "dead letters by reason": dict(Counter(by_origin.values())),
        "dead letters delivered more than once": len(letters) - len(by_origin),
    }
    with capsys.disabled():
        print("fault suite, the outcome:", json.dumps(outcome, indent=1))

    assert set(documents) == set(wanted)
    originals = {copy.article_id: f"{int(copy.article_id, 16) - ARTICLES:064x}" for copy in copies}
    for doc_id, source in documents.items():
        # One version per article: the one produced, plus one when a copy indexed before its
        # original was re-pointed to it afterwards (a partial update).
        joined = 1 if doc_id in originals else 0
        assert source["title"] == _title(wanted[doc_id]), doc_id
        assert version(wanted[doc_id]) <= source["_version"] <= version(wanted[doc_id]) + joined, doc_id
    assert duplicates == originals
    assert by_origin == poison_places
    assert produced == outcome["indexed"] + outcome["duplicates"] + len(by_origin)
    assert run["workers stopped on SIGTERM"]


def _title(raw: RawArticle) -> str:
    return raw.html.split("<h1>", 1)[1].split("</h1>", 1)[0]


def _drained(settings) -> bool:
    with Probe(settings) as probe:
        return (
            probe.backlog(settings.transform_group, settings.topic_raw).lag == 0
            and probe.backlog(settings.index_group, settings.topic_articles).lag == 0
        )


def _read(settings, topic: str) -> list:
    consumer = kafka_consumer(settings, None)
    try:
        return read_all(consumer, topic)
    finally:
        consumer.close()


def _all_documents(es: Elasticsearch, alias: str) -> dict[str, dict]:
    documents: dict[str, dict] = {}
    after: list | None = None
    while True:
        page = es.search(
            index=alias,
            size=2000,
            sort=[{"article_id": "asc"}],
            search_after=after,
            version=True,
            source_includes=["title", "duplicate_of"],
        )["hits"]["hits"]
        if not page:
            return documents
        for hit in page:
            documents[hit["_id"]] = {**hit["_source"], "_version": hit["_version"]}
        after = page[-1]["sort"]
