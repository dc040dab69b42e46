"""One run of the whole pipeline on the sample site, accounted for article by article.

`Demo.run` goes through these steps:

1. Kafka and Elasticsearch: the local services, started unless already running — or, when
   `external`, the ones the settings point at (e.g. the docker compose stack); then the topics.
2. The sample site on 127.0.0.1:NEWSFLOW_DEMO_SITE_PORT (served from `Demo.__enter__` until
   exit), and a sources file for its publishers under <state dir>/demo.
3. The transform and index workers, started as in production — child processes, members of
   their consumer groups — so they work while ingest publishes.
4. Airflow: its database (SQLite, <state dir>/airflow), then one run of the news_ingest DAG.
5. Wait until each worker has caught up with its topic, then stop both.
6. Account for every sample article — searchable, near-duplicate or dead letter — and run the
   sample search. The run passes when every article is accounted for and the seed article is
   the first hit (`Report.check`).

A second run adds nothing: ingest remembers what it published, and a re-delivered article
changes nothing downstream.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout

from ingest.state import SeenStore
from newsflow import dagrun, services
from newsflow.clients import elasticsearch_client
from newsflow.errors import Failure, PipelineStalled, ServiceUnreachable
from newsflow.ops.demo.site import SampleSite
from newsflow.ops.status import Backlog, Probe
from newsflow.settings import Settings
from newsflow.topics import ensure_topics
from newsflow.urls import article_id, canonical_url
from search.query import SearchRequest, search_body

SAMPLE_QUERY = "Toqayev parliamentary reform"
DRAIN_TIMEOUT = 600.0  # seconds the workers may take to catch up after ingest
Step = Callable[[str], None]
Advance = Callable[[str, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    source_id: str
    fragments: list[str]  # highlighted passages, matches between <mark> and </mark>


@dataclass(frozen=True)
class Report:
    """What one run did, and whether it passed (`check`)."""

    sample_articles: int
    ingest: list[dict]  # each source's IngestSummary of this run
    seconds: dict[str, float]  # stage → seconds from the start of ingest until it was done
    transformed: int  # records transform consumed in this run
    indexed: int  # records the indexer consumed in this run
    fetched: int  # sample articles ingest fetched, in all runs
    articles: int  # searchable
    duplicates: int
    dead_letters: Counter[str]  # sample articles dead-lettered, by "stage/reason"
    query: str  # the sample search
    hits: list[Hit]
    seed_id: str

    @property
    def accounted(self) -> bool:
        return self.articles + self.duplicates + self.dead_letters.total() == self.fetched == self.sample_articles

    def check(self) -> None:
        """Raise Failure unless the run passed: every sample article accounted for, the seed article the first hit."""
        if not self.accounted:
            raise Failure("the sample articles are not all accounted for (see the report above)")
        if not (self.hits and self.hits[0].article_id == self.seed_id):
            raise Failure(f"the sample search {self.query!r} did not find the seed article first")


class Worker:
    """A `newsflow worker ...` child process, its output in a log file."""

    def __init__(self, name: str, arguments: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "newsflow", "worker", *arguments],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check(self) -> None:
        if self._process.poll() is not None:
            raise PipelineStalled(f"the {self.name} worker exited ({self._process.returncode}); see {self.log}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # finishes its batch and commits
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


class Demo:
    def __init__(self, settings: Settings, external: bool = False) -> None:
        self.folder = settings.state_dir / "demo"
        self.settings = settings.model_copy(update={"sources_file": self.folder / "sources.yaml"})
        self.external = external
        self.site = SampleSite(settings.demo_site_port)

    def __enter__(self) -> "Demo":
        self.site.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.site.__exit__(*exc_info)

    @property
    def source_ids(self) -> list[str]:
        return [publisher.id for publisher in self.site.news.publishers]

    def run(self, step: Step, advance: Advance) -> Report:
        settings = self.settings
        if self.external:
            _check_elasticsearch(settings)
        else:
            services.up(settings, report=step)
        ensure_topics(settings)
        self.folder.mkdir(parents=True, exist_ok=True)
        settings.sources_file.write_text(yaml.safe_dump({"sources": self.site.sources()}, sort_keys=False))
        step(f"sample site: {len(self.site.news.articles)} articles of {len(self.source_ids)} publishers on {self.site.base}")
        env = {
            **os.environ,
            "NEWSFLOW_SOURCES_FILE": str(settings.sources_file.resolve()),
            "NEWSFLOW_TRANSFORM_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
        with Probe(settings) as probe:
            before = self._backlogs(probe)
            workers = [
                Worker("transform", ["transform"], env, self.folder / "transform.log"),
                Worker("index", ["index"], env, self.folder / "index.log"),
            ]
            try:
                airflow = dagrun.airflow_env(settings.state_dir / "airflow", env)
                started = time.monotonic()
                dagrun.migrate(airflow, self.folder / "airflow.log")
                step(f"airflow: database ready in {time.monotonic() - started:.1f} s ({settings.state_dir / 'airflow'})")
                seconds, summaries = self._run_pipeline(probe, workers, airflow, advance)
            finally:
                for worker in workers:
                    worker.stop()
            after = self._backlogs(probe)
            return self._report(probe, summaries, seconds, before, after)

    def _run_pipeline(
        self, probe: Probe, workers: list[Worker], airflow: dict[str, str], advance: Advance
    ) -> tuple[dict[str, float], list[dict]]:
        """Steps 4 and 5: the DAG run, while the workers consume; until both have caught up."""
        store = SeenStore.open(self.settings)
        started = time.monotonic()
        seconds: dict[str, float] = {}
        try:
            with ThreadPoolExecutor(1) as pool:
                every_source = {"only_due": False}  # a demonstration: each source now, due or not
                dag_run = pool.submit(dagrun.run_once, "news_ingest", airflow, self.folder / "airflow.log", every_source)
                while len(seconds) < 3:
                    for worker in workers:
                        worker.check()
                    transform, index = self._backlogs(probe)
                    advance("ingest", store.articles_of(self.source_ids), len(self.site.news.articles))
                    advance("transform", transform.consumed, transform.end)
                    advance("index", index.consumed, index.end)
                    elapsed = time.monotonic() - started
                    if "ingest" not in seconds and dag_run.done():
                        seconds["ingest"] = elapsed
                    if "ingest" in seconds and "transform" not in seconds and transform.lag == 0:
                        seconds["transform"] = elapsed
                    if "transform" in seconds and index.lag == 0:
                        seconds["index"] = elapsed
                    if elapsed - seconds.get("ingest", elapsed) > DRAIN_TIMEOUT:
                        raise PipelineStalled(
                            f"the workers did not catch up within {DRAIN_TIMEOUT:.0f} s after ingest; "
                            f"see {self.folder}/transform.log and index.log"
                        )
                    time.sleep(0.5)
                summaries = dag_run.result().returns["ingest"]
        finally:
            store.close()
        return seconds, summaries

    def _backlogs(self, probe: Probe) -> tuple[Backlog, Backlog]:
        settings = self.settings
        return (
            probe.backlog(settings.transform_group, settings.topic_raw),
            probe.backlog(settings.index_group, settings.topic_articles),
        )

    def _report(
        self,
        probe: Probe,
        summaries: list[dict],
        seconds: dict[str, float],
        before: tuple[Backlog, Backlog],
        after: tuple[Backlog, Backlog],
    ) -> Report:
        """Step 6."""
        letters = {}  # article id → "stage/reason" of its latest letter
        for stored in probe.dead_letters():
            letter = stored.letter
            if letter and letter.article_id and letter.source_id in self.source_ids:
                letters[letter.article_id] = f"{letter.stage}/{letter.reason}"
        for redriven in probe.indexed_ids(list(letters)):
            del letters[redriven]  # redriven since, and indexed
        store = SeenStore.open(self.settings)
        try:
            fetched = store.articles_of(self.source_ids)
        finally:
            store.close()
        counts = probe.index(self.source_ids)
        seed = next(article for article in self.site.news.articles if article.seed)
        return Report(
            sample_articles=len(self.site.news.articles),
            ingest=summaries,
            seconds=seconds,
            transformed=after[0].consumed - before[0].consumed,
            indexed=after[1].consumed - before[1].consumed,
            fetched=fetched + sum(reason.startswith("ingest/") for reason in letters.values()),
            articles=counts.articles if counts else 0,
            duplicates=counts.duplicates if counts else 0,
            dead_letters=Counter(letters.values()),
            query=SAMPLE_QUERY,
            hits=sample_search(self.settings, SAMPLE_QUERY),
            seed_id=article_id(canonical_url(self.site.url(self.site.path(seed)))),
        )


def sample_search(settings: Settings, query: str, size: int = 3) -> list[Hit]:
    """The first hits of `query`, searched as the API searches."""
    es = elasticsearch_client(settings)
    try:
        answer = es.search(index=settings.index_alias, **search_body(SearchRequest(q=query, size=size)))
    finally:
        es.close()
    return [
        Hit(
            hit["_source"]["article_id"],
            hit["_source"]["title"],
            hit["_source"]["source_id"],
            hit.get("highlight", {}).get("body", []),
        )
        for hit in answer["hits"]["hits"]
    ]


def _check_elasticsearch(settings: Settings) -> None:
    es = elasticsearch_client(settings, max_retries=0)
    try:
        es.cluster.health(timeout="5s")  # not ping(): the local distribution answers 405 to GET /
    except (TransportConnectionError, ConnectionTimeout):
        raise ServiceUnreachable(
            f"Elasticsearch at {settings.elasticsearch_url} does not answer; "
            "start it (e.g. `docker compose up -d`) or set NEWSFLOW_ELASTICSEARCH_URL"
        ) from None
    finally:
        es.close()
