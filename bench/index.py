"""Indexer throughput (`newsflow worker index`) against a raw `streaming_bulk` of the same documents, and the
index's cost against the version-1 mapping, in one run.

The pages of bench/extraction-benchmark are normalized once each by `transform.normalize` and
copied under distinct article ids and URLs to N articles. Needs the local services
(`make services-up`):

    .venv/bin/python bench/index.py [--articles 5000] [--rounds 3]

- The mapping's cost: the same `streaming_bulk` (below) into a fresh index of the version-1
  mapping (`bench.baseline.standard_index`: the standard analyzer, no stems, no folded sub-fields),
  then into one of the current template; for each, the wall time until all are counted, the CPU
  time Elasticsearch's process spent meanwhile (`_nodes/stats`, so the bench's own Python is not
  counted), both per document, and the store size once flushed and merged to one segment (so that
  merges still pending do not decide the comparison). Each index is deleted before the next. The
  two alternate for R rounds (the first of a round changes from one to the other), and the medians
  are printed: on cores shared with other work, one load of each varies by half. A round before
  them is not counted: a node's first loads after its start are slower by half, whichever mapping
  they load (its Java code still being compiled), and would decide the median of few rounds.
- Baseline: `elasticsearch.helpers.streaming_bulk` of `search.index.document(article, None, now)`
  with `_id` = article id and the external version of `search.index.version`, in chunks of
  NEWSFLOW_INDEX_BATCH_SIZE, into a fresh index made by `search.index.create_index`; timed until a
  refreshed `count` equals N. (This is the current template's row of the mapping's cost.) For
  reference, one load more as `parallel_bulk` with NEWSFLOW_INDEX_BULK_REQUESTS threads, each
  request that share of a batch: the indexer's requests side by side, without its work around them.
- newsflow: the N articles as JSON on a fresh news.articles topic (keyed by article id),
  consumed by `python -m newsflow worker index` in a child process (fresh group and alias); timed
  from the child's start (Python start-up, group join, index creation included) until a `count` of
  the alias equals N, polled every 0.05 s without a refresh (the worker's bulk requests refresh,
  and a forced one would cost the worker), and from the moment its first documents were
  searchable (start-up left out); and, second, until the group has committed every offset, which
  the worker does once a batch's stories are settled too. The worker also plans and settles each
  batch's stories (`search.stories`). `distinct` gives each copy band keys of its own
  (`without_near_duplicates`), as in a feed of distinct stories, and is the baseline's like: it
  runs once in each of the R rounds above, after the round's loads, as a new group into an alias
  of its own deleted after it, and its medians are printed, as the baseline's are (one run of it
  varied from 0.66 to 0.92 of the baseline). `copies`, once at the end, keeps the page's keys, so
  every copy joins the story of its page, and many are re-pointed (below): the worst case of story
  work, not a typical feed. The worker's CPU time (user + system) and peak RSS over its whole life
  are printed too (the largest of the `distinct` runs): on shared cores CPU varies less than the
  wall time. Elasticsearch's is not counted.
- Stories, checked once the `copies` worker is done: the copies of a page have one publication and first
  sight, so its first article is the copy with the smallest id, n < pages (`articles`); every
  other copy must carry `duplicate_of` = `story_id` = that id, and the first `story_id` = its own.
  The re-pointing updates are counted from the documents' versions (each update adds one): Kafka
  delivers the copies partition by partition, so a page's first changes whenever a partition
  brings a copy of smaller id, and the copies indexed until then are re-pointed.

Topics, group, aliases, indices and templates are fresh (`bench-...`) and deleted at the end,
even on failure. With --json, the last line is one JSON object: `ratio` (the `distinct` run after
start-up against streaming_bulk; `ratio_with_startup`), `ratio_copies` (and `_with_startup`),
`parallel_bulk_ratio` (parallel_bulk against streaming_bulk),
`mapping_time_ratio`, `mapping_cpu_ratio`, `mapping_size_ratio` (current against version 1),
`stories_right`, `peak_mib` of the worker by run.
"""

import argparse
import hashlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import closing, suppress
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import ApiError, NotFoundError, helpers  # noqa: E402
from kafka import TopicPartition  # noqa: E402

from bench.baseline import delete_alias, standard_index  # noqa: E402
from bench.corpus import BENCHMARK  # noqa: E402
from bench.procfs import cpu_seconds, peak_mib  # noqa: E402
from bench.report import json_flag, print_json  # noqa: E402
from bench.transform import raw_articles  # noqa: E402
from newsflow.clients import elasticsearch_client, kafka_admin, kafka_consumer, kafka_producer  # noqa: E402
from newsflow.errors import Rejected  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.topics import ensure_topics  # noqa: E402
from search.index import TEMPLATE_VERSION, create_index, document, template_name, version  # noqa: E402
from transform.contract import NormalizedArticle  # noqa: E402
from transform.normalize import normalize  # noqa: E402

POLL = 0.05  # seconds between two counts of the worker's alias (its bulk requests refresh: no refresh forced)
TIMEOUT = 900  # seconds the worker may take before the run is declared failed


def normalized_pages(min_words: int) -> list[NormalizedArticle]:
    """Each benchmark page normalized once (the pages transform refuses are left out)."""
    pages = len(json.loads((BENCHMARK / "ground-truth.json").read_text()))
    now = datetime.now(UTC)
    originals = []
    for raw in raw_articles(pages):
        with suppress(Rejected):
            originals.append(normalize(raw, now, min_words))
    return originals


def articles(count: int, min_words: int) -> tuple[list[NormalizedArticle], int]:
    """`count` articles: each benchmark page normalized once, then copied under new ids and URLs."""
    originals = normalized_pages(min_words)
    copies = []
    for n in range(count):
        original = originals[n % len(originals)]
        url = f"{original.url.split('?', 1)[0]}?bench={n}"
        copies.append(original.model_copy(update={"article_id": f"{n:064x}", "url": url, "canonical_url": url}))
    return copies, len(originals)


def without_near_duplicates(items: list[NormalizedArticle]) -> list[NormalizedArticle]:
    """The articles with band keys of their own (each key salted with the article id): no two are
    near-duplicates, as in a feed of distinct stories."""
    return [
        article.model_copy(
            update={
                "near_duplicate_keys": [
                    f"{key[:3]}{hashlib.blake2b(f'{key}{article.article_id}'.encode(), digest_size=8).hexdigest()}"
                    for key in article.near_duplicate_keys
                ]
            }
        )
        for article in items
    ]


def count(es, alias: str, refresh: bool = True) -> int:
    """Documents searchable behind `alias` (after a refresh if `refresh`); 0 while it does not exist
    or its shards are still starting (503)."""
    try:
        if refresh:
            es.indices.refresh(index=alias)
        return es.count(index=alias)["count"]
    except NotFoundError:
        return 0
    except ApiError as exc:
        if exc.meta.status != 503:
            raise
        return 0


def elasticsearch_cpu_ms(es) -> int:
    """CPU time of the Elasticsearch processes of the cluster so far, in milliseconds."""
    nodes = es.nodes.stats(metric="process", filter_path="nodes.*.process.cpu.total_in_millis")["nodes"]
    return sum(node["process"]["cpu"]["total_in_millis"] for node in nodes.values())


def bulk_load(settings: Settings, items: list[NormalizedArticle], make_index: Callable, threads: int = 1) -> dict:
    """streaming_bulk of the documents into a fresh index made by `make_index(es, settings)` (with
    `threads`, parallel_bulk of requests a `threads`-th of a batch, as the indexer sends them), until
    all are counted: its seconds, Elasticsearch's CPU milliseconds meanwhile, and the index's store
    size in bytes once merged to one segment."""
    es = elasticsearch_client(settings, request_timeout=600)
    make_index(es, settings)
    now = datetime.now(UTC)
    actions = (
        {
            "_op_type": "index",
            "_index": settings.index_alias,
            "_id": article.article_id,
            "version": version(article),
            "version_type": "external",
            "_source": document(article, None, now),
        }
        for article in items
    )
    cpu = elasticsearch_cpu_ms(es)
    started = time.perf_counter()
    if threads == 1:
        stream = helpers.streaming_bulk(es, actions, chunk_size=settings.index_batch_size)
    else:
        stream = helpers.parallel_bulk(es, actions, thread_count=threads, chunk_size=settings.index_batch_size // threads)
    for ok, item in stream:
        if not ok:
            raise RuntimeError(f"bulk load: document refused: {item}")
    while count(es, settings.index_alias) < len(items):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu = elasticsearch_cpu_ms(es) - cpu
    es.indices.forcemerge(index=settings.index_alias, max_num_segments=1, flush=True)
    size = es.indices.stats(index=settings.index_alias, metric="store")["_all"]["primaries"]["store"]["size_in_bytes"]
    es.close()
    return {"seconds": seconds, "cpu_ms": cpu, "bytes": size}


def produce(settings: Settings, items: list[NormalizedArticle]) -> float:
    ensure_topics(settings)
    started = time.perf_counter()
    producer = kafka_producer(settings)
    for article in items:
        producer.send(settings.topic_articles, key=article.key(), value=article.model_dump_json().encode())
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def worker_run(settings: Settings, items: list[NormalizedArticle], log: Path) -> dict:
    """Start `newsflow worker index` on the topic; time until the alias counts the items' documents."""
    total = len(items)
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_RAW": settings.topic_raw,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_INDEX_ALIAS": settings.index_alias,
        "NEWSFLOW_INDEX_GROUP": settings.index_group,
    }
    es = elasticsearch_client(settings)
    with open(log, "wb") as output:
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "worker", "index"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    first: tuple[float, int] | None = None  # (seconds, documents) when documents were first counted
    committed_at = peak = cpu = None
    try:
        while True:
            seen = count(es, settings.index_alias, refresh=False)
            now = time.perf_counter()
            if seen and first is None:
                first = (now - started, seen)
            if seen >= total:
                break
            if worker.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with {worker.returncode} after {seen} documents:\n{log.read_text()[-3000:]}"
                )
            if now - started > TIMEOUT:
                raise RuntimeError(f"the worker indexed {seen} of {total} documents in {TIMEOUT} s:\n{log.read_text()[-3000:]}")
            time.sleep(POLL)
        seconds = now - started
        while committed(settings) < total:
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"the worker committed {committed(settings)} of {total} offsets in {TIMEOUT} s")
            time.sleep(POLL)
        committed_at = time.perf_counter() - started
        es.indices.refresh(index=settings.index_alias)
        hits = list(helpers.scan(es, index=settings.index_alias, _source=["story_id", "duplicate_of"], version=True))
        stories = {hit["_id"]: (hit["_source"]["story_id"], hit["_source"]["duplicate_of"]) for hit in hits}
        # Each update of a document (a re-pointing of its story) adds one to the version it was indexed with.
        written = {article.article_id: version(article) for article in items}
        updates = sum(hit["_version"] - written[hit["_id"]] for hit in hits)
    finally:
        peak, cpu = peak_mib(worker.pid), cpu_seconds(worker.pid)  # its whole life, before it exits
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        es.close()
    assert first is not None  # set once documents were counted, before the loop ended
    first_seconds, first_count = first
    return {
        "seconds": seconds,
        "first": first_seconds,
        # docs/s after start-up: from the first documents searchable to the last
        "after": (total - first_count) / (seconds - first_seconds) if seconds > first_seconds else math.nan,
        "committed": committed_at,
        "stories": stories,
        "updates": updates,
        "exit": worker.returncode,
        "cpu": cpu,
        "peak_mib": peak,
        "dead_letters": end_offset(settings, settings.topic_dlq),
    }


def median_run(runs: list[dict]) -> dict:
    """The runs' medians of time, rate and CPU, and the largest peak RSS."""
    return {
        **{key: statistics.median(run[key] for run in runs) for key in ("seconds", "first", "after", "committed", "cpu")},
        "peak_mib": max(run["peak_mib"] for run in runs),
    }


def committed(settings: Settings) -> int:
    """The offsets the index group committed on news.articles, summed over the partitions."""
    admin = kafka_admin(settings)
    try:
        offsets = admin.list_group_offsets(settings.index_group).get(settings.index_group, {})
        return sum(max(offset.offset, 0) for offset in offsets.values())
    finally:
        admin.close()


def story_check(stories: dict[str, tuple[str, str | None]], pages: int) -> tuple[int, int, bool]:
    """(copies carrying their page's first as story_id and duplicate_of, copies, whether the story
    ids are exactly the firsts): copy n is of page n % pages, whose first is copy n % pages (an
    article id is n in hex), and a first carries its own id as story_id and no duplicate_of."""
    firsts = {f"{page:064x}" for page in range(min(pages, len(stories)))}
    right = copies = 0
    for article_id, (story_id, duplicate_of) in stories.items():
        first = f"{int(article_id, 16) % pages:064x}"
        if article_id == first:
            continue
        copies += 1
        right += story_id == duplicate_of == first
    return (
        right,
        copies,
        {story_id for story_id, _ in stories.values()} == firsts and all(stories[first] == (first, None) for first in firsts),
    )


def end_offset(settings: Settings, topic: str) -> int:
    consumer = kafka_consumer(settings, None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    total = sum(consumer.end_offsets(partitions).values()) if partitions else 0
    consumer.close()
    return total


def clean_up(settings: Settings, aliases: list[str], transform_group: bool = False) -> None:
    """Delete what the run made; each step on its own, so one failure does not keep the rest. The
    index group goes, and the transform group too when the run made its own (`transform_group`)."""
    es = elasticsearch_client(settings)
    for alias in aliases:
        try:
            indices = list(es.indices.get(index=f"{alias}-*"))
            if indices:
                es.indices.delete(index=indices)
            es.indices.delete_index_template(name=template_name(settings.model_copy(update={"index_alias": alias})))
        except NotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - report and go on cleaning
            print(f"clean-up: {alias}: {exc}", file=sys.stderr)
    es.close()
    try:
        admin = kafka_admin(settings)
        existing = set(admin.list_topics())
        topics = [t for t in (settings.topic_raw, settings.topic_articles, settings.topic_dlq) if t in existing]
        if topics:
            admin.delete_topics(topics)
        made = [settings.index_group, *([settings.transform_group] if transform_group else [])]
        groups = [group for group in made if group in {listed["group_id"] for listed in admin.list_groups()}]
        if groups:
            for group, error in dict(admin.delete_groups(groups)).items():
                if error not in (None, "OK") and "NoError" not in str(error):
                    print(f"clean-up: group {group}: {error}", file=sys.stderr)
        admin.close()
    except Exception as exc:  # noqa: BLE001
        print(f"clean-up: Kafka: {exc}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds: a load of each mapping, alternating, then a distinct worker run; medians printed",
    )
    json_flag(parser)
    args = parser.parse_args()

    prefix = uuid.uuid4().hex[:8]
    # Aliases whose template patterns (<alias>-*) cannot overlap.
    base = load_settings()
    bulk = base.model_copy(update={"index_alias": f"bench-bulk-{prefix}"})
    flows = {
        kind: base.model_copy(
            update={
                "index_alias": f"bench-flow{kind}-{prefix}",
                "index_group": f"bench-flow{kind}-{prefix}",
                "topic_raw": f"bench-{kind}-{prefix}.raw",
                "topic_articles": f"bench-{kind}-{prefix}.articles",
                "topic_dlq": f"bench-{kind}-{prefix}.dlq",
            }
        )
        for kind in ("distinct", "copies")
    }
    # The distinct worker once a round, each time as a new group into an alias of its own.
    distinct_rounds = [
        flows["distinct"].model_copy(
            update={"index_alias": f"bench-flowdistinct{round_}-{prefix}", "index_group": f"bench-flowdistinct{round_}-{prefix}"}
        )
        for round_ in range(args.rounds)
    ]
    standard = base.model_copy(update={"index_alias": f"bench-standard-{prefix}"})
    copied, distinct = articles(args.articles, base.transform_min_words)
    items = {"distinct": without_near_duplicates(copied), "copies": copied}
    log = Path(tempfile.mkstemp(prefix="bench-index-", suffix=".log")[1])
    try:
        produced = sum(produce(flows[kind], items[kind]) for kind in flows)
        mappings = [
            ("version 1 (standard analyzer)", standard, standard_index),
            (f"current (version {TEMPLATE_VERSION})", bulk, create_index),
        ]
        runs: dict[str, list[dict]] = {name: [] for name, _, _ in mappings}
        workers = []
        for round_ in range(-1, args.rounds):  # round -1 warms the node up
            for name, settings, make_index in mappings if round_ % 2 == 0 else mappings[::-1]:
                load = bulk_load(settings, items["distinct"], make_index)
                if round_ >= 0:
                    runs[name].append(load)
                # Each index is deleted before the next load: its merges must not run beside it.
                with closing(elasticsearch_client(settings)) as es:
                    delete_alias(es, settings)
            if round_ >= 0:
                workers.append(worker_run(distinct_rounds[round_], items["distinct"], log))
                with closing(elasticsearch_client(base)) as es:
                    delete_alias(es, distinct_rounds[round_])
        loads = {name: {key: statistics.median(run[key] for run in done) for key in done[0]} for name, done in runs.items()}
        parallel = bulk_load(bulk, items["distinct"], create_index, base.index_bulk_requests)
        with closing(elasticsearch_client(bulk)) as es:
            delete_alias(es, bulk)
        results = {"distinct": median_run(workers), "copies": worker_run(flows["copies"], items["copies"], log)}
    finally:
        for flow in [*flows.values(), *distinct_rounds]:
            clean_up(flow, [flow.index_alias])
        clean_up(base, [standard.index_alias, bulk.index_alias])
    log.unlink(missing_ok=True)
    bulk_seconds = loads[f"current (version {TEMPLATE_VERSION})"]["seconds"]

    n = args.articles
    bulk_rate = n / bulk_seconds
    print(
        f"{n} articles: {distinct} {BENCHMARK.name} pages normalized once each, copied under distinct ids and URLs; "
        f"{os.cpu_count()} cores shared with Kafka and Elasticsearch"
    )
    print(
        f"produced to the two topics in {produced:.1f} s; bulk/batch size {base.index_batch_size}; "
        "distinct: each copy with band keys of its own; copies: each copy a near-duplicate of its page"
    )
    print(f"{'':<40}{'seconds':>9}{'docs/s':>9}{'vs baseline':>13}{'after start-up':>16}")
    print(f"{'streaming_bulk (baseline, distinct)':<40}{bulk_seconds:>9.2f}{bulk_rate:>9.0f}{1:>13.2f}{1:>16.2f}")
    parallel_rate = n / parallel["seconds"]
    parallel_name = f"parallel_bulk, {base.index_bulk_requests} threads"
    print(f"{parallel_name:<40}{parallel['seconds']:>9.2f}{parallel_rate:>9.0f}{parallel_rate / bulk_rate:>13.2f}")
    ratios: dict[str, dict[str, float]] = {}
    for kind, result in results.items():
        flow_rate = n / result["seconds"]
        ratios[kind] = {"with_startup": flow_rate / bulk_rate, "after_startup": result["after"] / bulk_rate}
        print(
            f"{'newsflow worker index, ' + kind:<40}{result['seconds']:>9.2f}{flow_rate:>9.0f}"
            f"{flow_rate / bulk_rate:>13.2f}{result['after'] / bulk_rate:>16.2f}"
        )
    print(f"  distinct: medians of {args.rounds} runs, one a round after the mapping's loads (below), peak RSS the largest")
    for kind, result in results.items():
        print(
            f"  {kind}: start-up until the first documents were searchable {result['first']:.1f} s; "
            f"every offset committed (stories settled) after {result['committed']:.2f} s; "
            f"worker CPU {result['cpu']:.1f} s ({1000 * result['cpu'] / n:.2f} ms/doc), peak RSS {result['peak_mib']:.0f} MiB"
        )
    result = results["copies"]
    right, copies, only_firsts = story_check(result["stories"], distinct)
    story_ids = len({story_id for story_id, _ in result["stories"].values()})
    print(
        f"  copies' stories: {right} of {copies} copies point at their page's original (story_id = duplicate_of = "
        f"the copy of smallest id); {story_ids} story ids, "
        + (f"exactly the {min(n, distinct)} originals ✓" if only_firsts and right == copies else "✗ not the originals")
        + f"; {result['updates']} re-pointing updates (a page's first changes each time a partition brings a smaller id)"
    )
    print(
        f"  dead letters: {result['dead_letters']}; worker exit code after SIGTERM: {result['exit']}; "
        f"alias counted (no refresh forced) every {POLL} s"
    )
    print(
        f"\nthe mapping's cost, streaming_bulk of the {n} documents, median of {args.rounds} loads each, "
        "alternating, after a round not counted:"
    )
    print(f"{'mapping':<34}{'ms/doc':>9}{'ES CPU ms/doc':>15}{'store MiB':>11}{'time':>7}{'CPU':>7}{'size':>7}")
    first = next(iter(loads.values()))
    for name, load in loads.items():
        print(
            f"{name:<34}{load['seconds'] * 1000 / n:>9.2f}{load['cpu_ms'] / n:>15.2f}{load['bytes'] / 2**20:>11.1f}"
            f"{load['seconds'] / first['seconds']:>7.2f}{load['cpu_ms'] / first['cpu_ms']:>7.2f}"
            f"{load['bytes'] / first['bytes']:>7.2f}"
        )
    print("  time, CPU, size: against version 1; store size after a merge to one segment")
    first = next(iter(loads.values()))
    current = loads[f"current (version {TEMPLATE_VERSION})"]
    print_json(
        args,
        {
            "ratio": ratios["distinct"]["after_startup"],
            "ratio_with_startup": ratios["distinct"]["with_startup"],
            "ratio_copies": ratios["copies"]["after_startup"],
            "ratio_copies_with_startup": ratios["copies"]["with_startup"],
            "parallel_bulk_ratio": parallel_rate / bulk_rate,
            "mapping_time_ratio": current["seconds"] / first["seconds"],
            "mapping_cpu_ratio": current["cpu_ms"] / first["cpu_ms"],
            "mapping_size_ratio": current["bytes"] / first["bytes"],
            "stories_right": right == copies and only_firsts,
            "peak_mib": {kind: result["peak_mib"] for kind, result in results.items()},
        },
    )


if __name__ == "__main__":
    main()
