"""A run of 5,000 articles through the real workers, shared by the fault suite and the cluster suite.

1. `services_env`: the environment of services of the run's own (own state dir and free ports,
   one node or a cluster), which `own_services` brings up and afterwards down and wipes.
2. `corpus`: 5,000 articles, 50 syndicated copies and 30 poison records; `produce` sends them to
   news.raw, at once or at a pace (as ingest would, run after run).
3. `Pipeline`: `newsflow worker transform --processes 2` and `newsflow worker index` as child
   processes, the faults done to them and to the services, their peak memory.
4. What is read back at the end (`drained`, `all_documents`) and checked (`check_outcome`): every
   article indexed once with the version produced, the copies marked, the poison dead-lettered.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ingest.contract import RawArticle
from newsflow import services
from newsflow.clients import kafka_producer
from newsflow.deadletters import DeadLetter
from newsflow.ops.demo.site import article_page
from newsflow.ops.status import Probe
from newsflow.settings import LOCAL_PORTS, Settings, node_port
from search.index import version
from tests.articles import raw_article as article_record
from tests.helpers import free_port, read_topic, run_newsflow, transform_processes

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


def services_env(home: Path, nodes: int = 1) -> dict[str, str]:
    """The environment of services of their own under `home`: free ports (every node's, on a cluster)."""
    while True:
        bases = [free_port() for _ in LOCAL_PORTS]
        ports = [node_port(base, node) for base in bases for node in range(nodes)]
        if len(set(ports)) == len(ports) and all(_port_free(port) for port in ports):
            break
    return {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(home / "state"),
        "NEWSFLOW_SERVICE_NODES": str(nodes),
        **{f"NEWSFLOW_{setting.upper()}": str(base) for setting, base in zip(LOCAL_PORTS, bases, strict=True)},
        "NEWSFLOW_TRANSFORM_METRICS_PORT": "0",
        "NEWSFLOW_INDEX_RETRY_MAX_SECONDS": "2",
        "NEWSFLOW_SOURCES_FILE": str(home / "no-sources.yaml"),
    }


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except (OSError, OverflowError):
            return False
    return True


@contextmanager
def own_services(
    prefix: str, nodes: int = 1, services: tuple[str, ...] = (), **variables: str
) -> Iterator[tuple[dict[str, str], Path]]:
    """Services of their own (`services_env`, plus `variables`; the named `services`, or all), up for the block,
    then stopped and wiped."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o755)  # Elasticsearch runs as an unprivileged user when the tests run as root
    env = {**services_env(home, nodes), **variables}
    try:
        up = run_newsflow("services", "up", *services, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, home
    finally:
        run_newsflow("services", "down", "--wipe", env=env)
        shutil.rmtree(home, ignore_errors=True)


def raw_article(n: int, title: str, paragraphs: list[str], source: str, seen: datetime) -> RawArticle:
    """An article of the corpus: the demo's page of `title` and `paragraphs`, first seen, fetched and published at `seen`."""
    return article_record(n, article_page(title, paragraphs, "Staff Writer").decode(), source, seen, seen, seen)


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
                self.peak_kib[name] = max(self.peak_kib[name], peak_rss_kib(pid))

    def kill(self, fault: str) -> None:
        """SIGKILL to `fault` (a worker, or a service or one node of a cluster, by name), then start it again."""
        if fault == "transform process":
            os.kill(self.rng.choice(transform_processes(self.transform.pid)), signal.SIGKILL)  # the supervisor restarts it
        elif fault == "indexer":
            os.killpg(self.index.pid, signal.SIGKILL)
            self.index.wait()
            self.index = self._worker("index")
        else:
            self.kill_service(fault)
            self.restart_service(fault)

    def kill_service(self, name: str) -> None:
        """SIGKILL to the service or node called `name`; returns once every process of it is gone."""
        (service,) = services.select(self.settings, [name])
        group = service.running().pid
        os.killpg(group, signal.SIGKILL)
        wait_gone(group)  # its node lock and ports are free only once every process of it is gone

    def restart_service(self, name: str) -> None:
        up = run_newsflow("services", "up", name, env=self.env)
        assert up.returncode == 0, up.stdout + up.stderr

    def stop(self) -> bool:
        """SIGTERM to the workers; True if both exited in time (they are killed otherwise)."""
        graceful = True
        for name, worker in (("transform", self.transform), ("index", self.index)):
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(120)
                except subprocess.TimeoutExpired:
                    graceful = False
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
                    log = self.home / f"{name}.log"
                    print(f"the {name} worker did not stop on SIGTERM; the end of its log:")
                    print(*log.read_text(errors="replace").splitlines()[-40:], sep="\n")
        return graceful


def wait_gone(group: int, timeout: float = 60) -> None:
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


def peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def produce(
    settings: Settings, raws: list[RawArticle], poison: list[tuple[str, bytes]], batch: int = 0, pause: float = 0.0
) -> dict[tuple[int, int], str]:
    """Send `raws`, then `poison`, to news.raw (`batch` records every `pause` seconds; 0: all at once); every
    send must succeed. The poison records' places (partition, offset), with the reason each must get."""
    producer = kafka_producer(settings)
    values = [(raw.key(), raw.model_dump_json().encode()) for raw in raws]
    values += [(f"poison-{i}".encode(), value) for i, (_, value) in enumerate(poison)]
    futures = []
    for start in range(0, len(values), batch or len(values)):
        futures += [
            producer.send(settings.topic_raw, key=key, value=value)
            for key, value in values[start : start + (batch or len(values))]
        ]
        producer.flush()
        time.sleep(pause)
    producer.close()
    assert all(future.succeeded() for future in futures)
    return {
        (meta.partition, meta.offset): reason
        for (reason, _), future in zip(poison, futures[len(raws) :], strict=True)
        for meta in [future.get()]
    }


def check_outcome(
    es: Elasticsearch,
    settings: Settings,
    articles: list[RawArticle],
    copies: list[RawArticle],
    poison_places: dict[tuple[int, int], str],
    suite: str,
) -> dict[str, Any]:
    """Print what the index and news.dlq hold, then check it: every article indexed once with the version
    produced, the copies marked as near-duplicates of their originals, the poison dead-lettered."""
    es.indices.refresh(index=settings.index_alias)
    documents = all_documents(es, settings.index_alias)
    wanted = {raw.article_id: raw for raw in articles + copies}
    letters = [
        (record.partition, record.offset, DeadLetter.model_validate_json(record.value))
        for record in read_topic(settings, settings.topic_dlq)
    ]
    by_origin = {(letter.origin.partition, letter.origin.offset): letter.reason for _, _, letter in letters}
    duplicates = {doc_id: source["duplicate_of"] for doc_id, source in documents.items() if source["duplicate_of"]}
    outcome: dict[str, Any] = {
        "indexed": len(documents) - len(duplicates),
        "duplicates": len(duplicates),
        "dead letters by reason": dict(Counter(by_origin.values())),
        "dead letters delivered more than once": len(letters) - len(by_origin),
    }
    print(f"{suite}, the outcome:", json.dumps(outcome, indent=1))

    assert set(documents) == set(wanted)
    originals = {copy.article_id: f"{int(copy.article_id, 16) - ARTICLES:064x}" for copy in copies}
    for doc_id, source in documents.items():
        # One version per article: the one produced, plus one when a copy indexed before its
        # original was re-pointed to it afterwards (a partial update).
        joined = 1 if doc_id in originals else 0
        assert source["title"] == title(wanted[doc_id]), doc_id
        assert version(wanted[doc_id]) <= source["_version"] <= version(wanted[doc_id]) + joined, doc_id
    assert duplicates == originals
    assert by_origin == poison_places
    assert len(wanted) + len(poison_places) == outcome["indexed"] + outcome["duplicates"] + len(by_origin)
    return outcome


def title(raw: RawArticle) -> str:
    return raw.html.split("<h1>", 1)[1].split("</h1>", 1)[0]


def lags(settings) -> dict[str, int]:
    """What each worker group has left to commit, by group."""
    with Probe(settings) as probe:
        return {
            settings.transform_group: probe.backlog(settings.transform_group, settings.topic_raw).lag,
            settings.index_group: probe.backlog(settings.index_group, settings.topic_articles).lag,
        }


def drained(settings) -> bool:
    return not any(lags(settings).values())


def all_documents(es: Elasticsearch, alias: str) -> dict[str, dict]:
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
