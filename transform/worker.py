"""`newsflow worker transform`: long-running consumers of news.raw that publish news.articles.

Extraction is CPU-bound and trafilatura is not thread-safe, so the worker runs N processes,
each its own member of the consumer group (Kafka spreads the partitions among them). A
supervisor starts them, restarts one that dies, serves /metrics for all, and on SIGTERM or
Ctrl-C asks each to finish its batch, commit and exit.

Each record becomes exactly one outcome: an article on news.articles, a dead letter on news.dlq,
or (a tombstone: no value) filtered. consumed = published + filtered + dead-lettered.

Exactly once (NEWSFLOW_TRANSFORM_EXACTLY_ONCE, on by default): each batch's articles, dead letters
and consumed offsets go to Kafka in one transaction; a process killed before the commit leaves
nothing a read_committed consumer reads. Process N of the worker has the transactional id
`<NEWSFLOW_TRANSFORM_GROUP>.<NEWSFLOW_WORKER_NAME or host name>.<N>`, the same after the supervisor
restarts it, so the new process fences the old one and aborts its open transaction at once.
"""

import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from kafka.consumer.fetcher import ConsumerRecord

from ingest.contract import RawArticle
from newsflow.clients import kafka_consumer
from newsflow.consumer import ConsumerLoop
from newsflow.deadletters import read_record, reject
from newsflow.errors import ConfigError, Reason, RecordTooLarge, Rejected, rejected_as
from newsflow.malloc import one_arena
from newsflow.publisher import Publisher, transactional_id
from newsflow.settings import Settings
from newsflow.shutdown import Shutdown
from newsflow.sources import Source, load_sources

log = logging.getLogger(__name__)

RESTART_DELAY = 5.0  # seconds before a crashed process is started again


def run(settings: Settings, processes: int | None = None) -> None:
    """Supervise the worker processes until SIGTERM or SIGINT; return when all have exited."""
    count = processes or settings.transform_processes or os.cpu_count() or 1
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="newsflow-transform-metrics-")
    if settings.transform_metrics_port:
        from transform import metrics

        metrics.serve(settings.transform_metrics_port)
    context = multiprocessing.get_context("spawn")
    children = {index: _start(context, settings, index) for index in range(count)}

    told: set[int] = set()  # pids already asked to stop

    def tell_children() -> None:
        for child in children.values():
            if child.pid is not None and child.is_alive() and child.pid not in told:
                os.kill(child.pid, signal.SIGTERM)
                told.add(child.pid)

    shutdown = Shutdown(signal.SIGTERM, signal.SIGINT, on_signal=tell_children)
    log.info("transform: %d processes consuming %s", count, settings.topic_raw)
    while any(child.is_alive() for child in children.values()) or not shutdown.requested:
        for index, child in children.items():
            if not child.is_alive() and not shutdown.requested:
                log.error("transform: process %d exited with %s; restarting it", index, child.exitcode)
                time.sleep(RESTART_DELAY)
                if not shutdown.requested:
                    children[index] = _start(context, settings, index)
        if shutdown.requested:
            tell_children()  # also a process started while the signal arrived: it would never stop
        time.sleep(0.2)


def _start(context, settings: Settings, index: int) -> multiprocessing.Process:
    process = context.Process(target=consume, args=(settings, index), name=f"transform-{index}")
    process.start()
    return process


def consume(settings: Settings, index: int = 0) -> None:
    """One group member: the consumer loop, each record of a batch turned into its one outcome."""
    from transform import metrics  # after PROMETHEUS_MULTIPROC_DIR is known

    one_arena()  # before the models load and the Kafka clients' threads start
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    shutdown = Shutdown(signal.SIGTERM)
    supervisor = os.getppid()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s transform-{index} %(levelname)s %(message)s")
    sources = _sources(settings)
    # Imported here, in the processes that extract: the supervisor would carry their 100 MB for nothing.
    from transform import entities

    entities.load()  # once per process, before the first record's deadline starts
    # Exactly-once: each batch's outcomes and offsets in one transaction, under an id that outlives restarts.
    publisher = Publisher(
        settings, transactional_id(settings, settings.transform_group, index) if settings.transform_exactly_once else None
    )

    def handle(batch: list[ConsumerRecord]) -> None:
        for record in batch:
            outcome, reason = _process(settings, record, sources, publisher, metrics)
            metrics.RECORDS.labels(outcome, reason).inc()

    def observe(commit_seconds: float, lag: int) -> None:
        metrics.COMMIT_SECONDS.observe(commit_seconds)
        metrics.CONSUMER_LAG.set(lag)

    consumer = kafka_consumer(
        settings, settings.transform_group, settings.topic_raw, max_poll_records=settings.transform_batch_size
    )
    # A killed supervisor takes its workers along.
    ConsumerLoop(consumer, publisher, handle, lambda: shutdown.requested or os.getppid() != supervisor, observe).run()


def _process(
    settings: Settings, record: ConsumerRecord, sources: dict[str, Source], publisher: Publisher, metrics: ModuleType
) -> tuple[str, str]:
    """Send the record's one outcome to the publisher; return (outcome, reason) for the counters."""
    from transform.normalize import normalize  # loaded with the models in `consume`; not in the supervisor

    if record.value is None:
        return "filtered", "tombstone"
    raw = None
    try:
        raw = read_record(RawArticle, record.value)
        with _timed(metrics.EXTRACTION_SECONDS), _deadline(settings.transform_timeout, raw.url):
            source = sources.get(raw.source_id)
            rules, language = (source.site_rules.drop_selectors, source.language) if source else ([], None)
            article = normalize(raw, datetime.now(UTC), settings.transform_min_words, rules, language)
        try:
            publisher.send(settings.topic_articles, article.key(), article)
        except RecordTooLarge as exc:
            raise RecordTooLarge(f"{raw.url}: the article is {exc}") from None
    except Rejected as error:
        reject(publisher, settings, "transform", record, error, raw)
        return "dead_lettered", error.reason
    return "published", ""


@contextmanager
def _deadline(seconds: float, url: str) -> Iterator[None]:
    """Abort the block after `seconds` (SIGALRM: each worker process is single-threaded)."""

    def expire(signum: int, frame: object) -> None:
        raise Rejected(Reason.EXTRACTION_TIMEOUT, f"{url}: extraction took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with rejected_as(Reason.EXTRACTION_FAILED, url):  # a crash inside the extraction libraries: the page's, not the worker's
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _timed(histogram) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


def _sources(settings: Settings) -> dict[str, Source]:
    """The sources of the sources file by id, for their site rules and languages; none when there is no such file."""
    if not Path(settings.sources_file).is_file():
        log.warning("no sources file at %s: no site rules, no source languages", settings.sources_file)
        return {}
    try:
        return {source.id: source for source in load_sources(settings.sources_file)}
    except ConfigError as exc:
        log.error("sources not loaded (no site rules, no source languages): %s", exc)
        return {}
