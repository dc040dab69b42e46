"""The whole pipeline, news.raw to search, against one process that extracts and bulk-indexes the same pages, in one run.

The pages of bench/extraction-benchmark, repeated under distinct URLs and article ids, as
`RawArticle` records (bench/transform.py makes them). Needs the local services (`make services-up`):

    .venv/bin/python bench/pipeline.py [--records 5000] [--rate 50] [--seconds 60] [--processes 2]

1. Baseline, in a child process: `transform.normalize.normalize` of each page, documents by
   `search.index.document`, `elasticsearch.helpers.bulk` (chunks of NEWSFLOW_INDEX_BATCH_SIZE)
   into its own index (`search.index.create_index`); timed from its first page until a plain
   `count` (no forced refresh) equals the documents sent. No Kafka, no story look-ups.
2. Throughput: the N records are produced to a fresh news.raw (keyed by article id) first; then
   `newsflow worker transform --processes P` and `newsflow worker index` start as child
   processes, as in production, on fresh topics, groups and alias. Timed from the workers' start
   (Python start-up and group join included), and from the first article transform published
   (its Kafka timestamp: start-up excluded), until a plain `count` of the alias (polled every
   0.5 s, never refreshed) equals the documents the baseline indexed. Repeated pages are marked
   `duplicate_of` by the indexer but remain documents: documents are counted, not originals.
3. Latency, with the same workers, after step 2, in two phases: at a rate the pipeline sustains
   (half the pages per second step 2 measured from transform's first output), then at --rate. In
   each, a thread publishes new records at the rate for --seconds, noting each article's publish
   time (just before `send`); every 0.15 s one `ids` search (a normal search: no refresh forced, no
   realtime get) asks which of the pending articles are visible. Latency = the time of the search
   that first saw it minus its publish time (so up to one poll interval too high). Pages transform
   refuses are not waited for; articles not seen within DRAIN seconds after the last publish count
   as infinitely late. A phase is held when every article was seen and the median latency of its
   last quarter of articles is at most BACKLOG_GROWTH above its first quarter's (a queue that grows
   makes each article wait longer than the one before); one not held measures the backlog.
4. Memory: peak RSS (VmHWM in /proc/<pid>/status) of every process: the baseline, the transform
   supervisor and each of its processes, the indexer. CPU per page: the baseline's timed loop;
   the workers' user + system time (/proc/<pid>/stat) over their lives until the end of step 2,
   start-up included (Kafka's and Elasticsearch's not counted), and from the moment the first
   documents were searchable (models loaded, group joined). The 1-minute load average at the end
   of each phase shows whether the 2 cores were shared with more than this bench.

Ratios are pipeline / baseline pages per second. With --json, the last line is one JSON object:
`throughput_ratio` (from transform's first output; `_with_startup`: from the workers' start),
`cpu_ratio` (from the first searchable documents; `_with_startup`), `sustainable_rate`, `p50_s` and
`p99_s` at that rate, `rates` (p50, p99, held, by rate), `peak_mib` by process. Everything made
(`pipe-...` topics, groups, aliases, indices, templates) is deleted at the end, even on failure.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import ApiError, NotFoundError, helpers  # noqa: E402
from kafka import TopicPartition  # noqa: E402

from bench.corpus import BENCHMARK  # noqa: E402
from bench.index import clean_up  # noqa: E402
from bench.procfs import Processes, peak_mib  # noqa: E402
from bench.report import json_flag, load, print_json  # noqa: E402
from bench.transform import raw_articles  # noqa: E402
from newsflow.clients import elasticsearch_client, kafka_consumer, kafka_producer  # noqa: E402
from newsflow.errors import Rejected  # noqa: E402
from newsflow.ops.demo.run import Worker  # noqa: E402
from newsflow.ops.status import Probe  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.topics import ensure_topics  # noqa: E402
from search.index import create_index, document, version  # noqa: E402
from transform.normalize import normalize  # noqa: E402

POLL = 0.5  # seconds between two counts of the alias (throughput)
SEARCH_POLL = 0.15  # seconds between two ids searches (latency)
TIMEOUT = 900  # seconds the pipeline may take to make the N records searchable
DRAIN = 60  # seconds the last published article may take to become searchable
# Seconds by which the median latency of a latency phase's last quarter of articles may exceed its
# first quarter's before the phase counts as not held: the queue grew.
BACKLOG_GROWTH = 1.0


def count(es, alias: str) -> int:
    """Documents a search sees behind `alias` now, without forcing a refresh; 0 before it exists."""
    try:
        return es.count(index=alias)["count"]
    except NotFoundError:
        return 0
    except ApiError as exc:  # 503 while the new index's shard starts
        if exc.meta.status != 503:
            raise
        return 0


def baseline(settings: Settings, records: int) -> dict:
    """Run in a child process: normalize + helpers.bulk of the N pages; seconds, documents, refused pages, peak."""
    articles, pages = raw_articles(records), len(json.loads((BENCHMARK / "ground-truth.json").read_text()))
    es = elasticsearch_client(settings)
    create_index(es, settings)
    refused: set[int] = set()

    def actions():
        for n, raw in enumerate(articles):
            try:
                article = normalize(raw, datetime.now(UTC), settings.transform_min_words)
            except Rejected:
                refused.add(n % pages)
                continue
            yield {
                "_index": settings.index_alias,
                "_id": article.article_id,
                "version": version(article),
                "version_type": "external",
                "_source": document(article, None, datetime.now(UTC)),
            }

    started, cpu = time.perf_counter(), time.process_time()
    indexed, _ = helpers.bulk(es, actions(), chunk_size=settings.index_batch_size)
    while count(es, settings.index_alias) < indexed:
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    es.close()
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "documents": indexed,
        "refused_pages": sorted(refused),
        "peak": peak_mib(os.getpid()),
        "load": load(),
    }


def produce(settings: Settings, records: int) -> float:
    started = time.perf_counter()
    producer = kafka_producer(settings)
    for raw in raw_articles(records):
        producer.send(settings.topic_raw, key=raw.key(), value=raw.model_dump_json().encode())
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def first_output(settings: Settings, topic: str) -> float:
    """Wall-clock time (s) of the earliest record on `topic`, from its Kafka timestamp."""
    consumer = kafka_consumer(settings, None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    found = [hit.timestamp for hit in consumer.offsets_for_times({tp: 0 for tp in partitions}).values() if hit]
    consumer.close()
    return min(found) / 1000


def throughput(
    settings: Settings, probe: Probe, expected: int, workers: list[Worker], started: float, processes: Processes
) -> dict:
    es = elasticsearch_client(settings)
    first_searchable = None
    at_first = (0, 0.0)  # (documents, the workers' CPU seconds) when the first documents were searchable
    while (seen := count(es, settings.index_alias)) < expected:
        for worker in workers:
            worker.check()
        processes.sample()
        if seen and first_searchable is None:
            first_searchable = time.time() - started
            at_first = (seen, processes.cpu())
        if time.time() - started > TIMEOUT:
            raise RuntimeError(f"{seen} of {expected} documents searchable after {TIMEOUT} s")
        time.sleep(POLL)
    done = time.time()
    processes.sample()
    es.close()
    return {
        "seconds": done - started,
        "from_first": done - first_output(settings, settings.topic_articles),
        "first_searchable": first_searchable,
        "cpu": processes.cpu(),
        # CPU per page once started: the models loaded, the group joined, the index made.
        "cpu_per_page_from_first": (processes.cpu() - at_first[1]) / max(1, expected - at_first[0]),
        "load": load(),
        "lag": [
            probe.backlog(settings.transform_group, settings.topic_raw).lag,
            probe.backlog(settings.index_group, settings.topic_articles).lag,
        ],
    }


def latency(
    settings: Settings,
    first: int,
    rate: float,
    seconds: float,
    refused_pages: set[int],
    workers: list[Worker],
    processes: Processes,
) -> dict:
    """Publish at `rate` for `seconds` from a thread; poll searches until each article is visible."""
    pages = len(json.loads((BENCHMARK / "ground-truth.json").read_text()))
    total = int(rate * seconds)
    articles = raw_articles(first + total)[first:]
    published: dict[str, tuple[int, float]] = {}  # article id → (its rank, perf_counter at send), until a search sees it
    lock = threading.Lock()

    def publish() -> None:
        producer = kafka_producer(settings)
        start = time.perf_counter()
        for i, raw in enumerate(articles):
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
            value = raw.model_dump_json().encode()
            if (first + i) % pages not in refused_pages:
                with lock:
                    published[raw.article_id] = (i, time.perf_counter())
            producer.send(settings.topic_raw, key=raw.key(), value=value)
        producer.flush()
        producer.close()

    expected = sum((first + i) % pages not in refused_pages for i in range(total))
    es = elasticsearch_client(settings)
    latencies: list[tuple[int, float]] = []  # (rank, latency) of each article seen
    producer = threading.Thread(target=publish)
    producer.start()
    deadline = None
    while len(latencies) < expected:
        with lock:
            pending = list(published)
        asked = time.perf_counter()
        if pending:
            hits = es.search(index=settings.index_alias, query={"ids": {"values": pending}}, size=len(pending), source=False)[
                "hits"
            ]["hits"]
            with lock:
                for hit in hits:
                    rank, sent = published.pop(hit["_id"])
                    latencies.append((rank, asked - sent))
        for worker in workers:
            worker.check()
        processes.sample()
        if deadline is None and not producer.is_alive():
            deadline = time.perf_counter() + DRAIN
        if deadline and time.perf_counter() > deadline:
            break
        time.sleep(max(0.0, asked + SEARCH_POLL - time.perf_counter()))
    producer.join()
    es.close()
    # Articles not seen within DRAIN seconds after the last publish count as infinitely late.
    samples = sorted(latency for _, latency in latencies) + [math.inf] * (expected - len(latencies))
    by_rank = [latency for _, latency in sorted(latencies)] or [math.inf]
    quarter = max(1, len(by_rank) // 4)
    early, late = statistics.median(by_rank[:quarter]), statistics.median(by_rank[-quarter:])
    return {
        "rate": rate,
        "published": total,
        "latencies": samples,
        # Held: every article seen, and the last quarter published no later than the first (a growing
        # queue makes each article wait longer than the one before).
        "held": len(latencies) == expected and late <= early + BACKLOG_GROWTH,
        "first_quarter": early,
        "last_quarter": late,
        "load": load(),
    }


def own_pipeline(base: Settings, prefix: str) -> tuple[Settings, dict[str, str]]:
    """Settings with topics, groups and an alias of their own (`<prefix>...`), and the workers' environment for them."""
    flow = base.model_copy(
        update={  # template patterns <alias>-*: "...-bulk-*" and "...-flow-*" do not overlap
            "index_alias": f"{prefix}-flow",
            "transform_group": f"{prefix}-transform",
            "index_group": f"{prefix}-index",
            "topic_raw": f"{prefix}.raw",
            "topic_articles": f"{prefix}.articles",
            "topic_dlq": f"{prefix}.dlq",
        }
    )
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_RAW": flow.topic_raw,
        "NEWSFLOW_TOPIC_ARTICLES": flow.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": flow.topic_dlq,
        "NEWSFLOW_INDEX_ALIAS": flow.index_alias,
        "NEWSFLOW_TRANSFORM_GROUP": flow.transform_group,
        "NEWSFLOW_INDEX_GROUP": flow.index_group,
        "NEWSFLOW_TRANSFORM_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    return flow, env


def percentile(samples: list[float], p: int) -> float:
    """Nearest rank: the smallest sample that at least p % of the samples do not exceed."""
    return samples[max(0, math.ceil(p / 100 * len(samples)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="records for the throughput phase")
    parser.add_argument("--rate", type=float, default=50.0, help="articles per second offered in the second latency phase")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each latency phase")
    parser.add_argument("--processes", type=int, default=2, help="transform worker processes")
    parser.add_argument("--baseline", metavar="ALIAS", help=argparse.SUPPRESS)
    json_flag(parser)
    args = parser.parse_args()
    base = load_settings()
    if args.baseline:
        print(json.dumps(baseline(base.model_copy(update={"index_alias": args.baseline}), args.records)))
        return

    prefix = f"pipe-{uuid.uuid4().hex[:8]}"
    bulk = base.model_copy(update={"index_alias": f"{prefix}-bulk"})
    flow, env = own_pipeline(base, prefix)
    logs = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    processes = Processes()
    try:
        print(f"baseline: normalize + helpers.bulk of {args.records} pages ...", file=sys.stderr, flush=True)
        bare = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--baseline", bulk.index_alias, "--records", str(args.records)],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        clean_up(bulk, [bulk.index_alias])  # its merges must not run beside the pipeline
        ensure_topics(flow)
        print(f"producing {args.records} records to {flow.topic_raw} ...", file=sys.stderr, flush=True)
        produced = produce(flow, args.records)
        with Probe(flow) as probe:
            started = time.time()
            workers = [
                Worker("transform", ["transform", "--processes", str(args.processes)], env, logs / "transform.log"),
                Worker("index", ["index"], env, logs / "index.log"),
            ]
            try:
                time.sleep(0.5)
                processes.sample()
                print(
                    f"workers started: {', '.join(f'{name} {pid}' for pid, (name, _, _) in processes.seen.items())}; "
                    f"logs in {logs}",
                    file=sys.stderr,
                    flush=True,
                )
                flow_run = throughput(flow, probe, bare["documents"], workers, started, processes)
                # Half of what the pipeline was measured to take: a rate it holds, so that the latency
                # is the pipeline's own, not the wait in a queue that only grows.
                sustainable = round(args.records / flow_run["from_first"] / 2, 1)
                phases, first = [], args.records
                for rate in (sustainable, args.rate):
                    print(f"latency: {rate:g} articles/s for {args.seconds:g} s ...", file=sys.stderr, flush=True)
                    phases.append(latency(flow, first, rate, args.seconds, set(bare["refused_pages"]), workers, processes))
                    first += phases[-1]["published"]
            finally:
                for worker in workers:
                    worker.stop()
            dead_letters = probe.records(flow.topic_dlq)
            counts = probe.index()
    finally:
        clean_up(flow, [bulk.index_alias, flow.index_alias], transform_group=True)

    n = args.records
    bare_rate = n / bare["seconds"]
    print(
        f"{n} records from {BENCHMARK.name} pages, {len(bare['refused_pages'])} pages refused by transform: "
        f"{bare['documents']} documents; {os.cpu_count()} cores shared with Kafka and Elasticsearch"
    )
    print(
        f"produced to {flow.topic_raw} in {produced:.1f} s before the workers started; transform --processes "
        f"{args.processes}, batch {base.transform_batch_size}; index batch {base.index_batch_size}"
    )
    print(
        f"{'throughput: until all documents are counted':<46}{'seconds':>8}{'pages/s':>9}{'vs baseline':>12}"
        f"{'CPU ms/page':>12}{'load':>6}"
    )
    print(
        f"{'baseline: normalize + bulk, 1 process':<46}{bare['seconds']:>8.1f}{bare_rate:>9.1f}{1:>12.2f}"
        f"{bare['cpu'] / n * 1000:>12.0f}{bare['load']:>6.1f}"
    )
    for name, seconds in (
        ("pipeline, from the workers' start", flow_run["seconds"]),
        ("pipeline, from transform's first output", flow_run["from_first"]),
    ):
        print(
            f"{name:<46}{seconds:>8.1f}{n / seconds:>9.1f}{n / seconds / bare_rate:>12.2f}"
            f"{flow_run['cpu'] / n * 1000:>12.0f}{flow_run['load']:>6.1f}"
        )
    print(
        f"  first document searchable {flow_run['first_searchable']:.1f} s after the workers' start; lag when done: "
        f"transform {flow_run['lag'][0]}, index {flow_run['lag'][1]}; CPU: the baseline's timed loop, the workers' "
        f"whole lives (start-up included), Kafka and Elasticsearch not counted; load: 1-minute load average at the end"
    )
    cpu_ratio = flow_run["cpu_per_page_from_first"] / (bare["cpu"] / n)
    print(
        f"  the workers' CPU per page once the first documents were searchable (start-up left out): "
        f"{flow_run['cpu_per_page_from_first'] * 1000:.0f} ms, {cpu_ratio:.2f}x the baseline's"
    )
    for phase in phases:
        samples = phase["latencies"]
        seen = sum(math.isfinite(sample) for sample in samples)
        shown = {p: percentile(samples, p) for p in (50, 95, 99)}
        print(
            f"publish → searchable, {phase['rate']:g} articles/s offered for {args.seconds:g} s"
            f"{' (half the throughput above)' if phase is phases[0] else ''}: {phase['published']} published, "
            f"{seen} of {len(samples)} expected seen within {DRAIN} s after the last; load {phase['load']:.1f}"
        )
        print(
            "  "
            + ", ".join(
                f"p{p} {value:.2f} s" if math.isfinite(value) else f"p{p} > {DRAIN} s (not seen)" for p, value in shown.items()
            )
            + f"; median of the first quarter {phase['first_quarter']:.2f} s, of the last {phase['last_quarter']:.2f} s: "
            + ("held" if phase["held"] else "NOT held, the queue grew")
            + f"; searched every {SEARCH_POLL} s, no forced refresh"
        )
    print(
        f"peak RSS (VmHWM) MiB: baseline {bare['peak']:.0f}; "
        + "; ".join(f"{name} {peak:.0f}" for name, peak, _ in sorted(processes.seen.values()))
    )
    if counts:
        print(
            f"index at the end: {counts.articles} documents without and {counts.duplicates} with duplicate_of; "
            f"dead letters {dead_letters}"
        )
    held = phases[0]["latencies"]
    print_json(
        args,
        {
            "throughput_ratio": n / flow_run["from_first"] / bare_rate,
            "throughput_ratio_with_startup": n / flow_run["seconds"] / bare_rate,
            "cpu_ratio": cpu_ratio,
            "cpu_ratio_with_startup": flow_run["cpu"] / bare["cpu"],
            "sustainable_rate": phases[0]["rate"],
            "p50_s": percentile(held, 50),
            "p99_s": percentile(held, 99),
            "rates": {
                f"{phase['rate']:g}": {
                    "p50_s": percentile(phase["latencies"], 50),
                    "p99_s": percentile(phase["latencies"], 99),
                    "held": phase["held"],
                }
                for phase in phases
            },
            "peak_mib": {f"{name} {pid}": peak for pid, (name, peak, _) in processes.seen.items()} | {"baseline": bare["peak"]},
        },
    )


if __name__ == "__main__":
    main()
