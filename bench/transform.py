"""Transform worker throughput (1 and 2 processes) against a bare loop of the same calls, in one run,
and what exactly-once costs: 2 processes with transactions (the default) against without.

The pages of bench/extraction-benchmark, repeated under distinct URLs to N records, go through
news.raw (fresh topics); `newsflow worker transform` consumes them as in production. The bare
baseline calls the same `normalize` on the same pages in one process, without Kafka. Needs the
local services (`make services-up`):

    .venv/bin/python bench/transform.py [--records 2000] [--json]

Worker throughput is measured between its first and its last output record (Kafka timestamps),
so process start-up and the group join are not counted; peak memory is each process's VmHWM.

With --json, the last line is one JSON object: `bare`, `worker_1`, `worker_2`, `at_least_once_2`, each `pages_per_s`,
`vs_bare`, `peak_mib` (a list for the workers: per process); `exactly_once_vs_at_least_once`; `records`.
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import TopicPartition  # noqa: E402

from bench.corpus import BENCHMARK, raw_page  # noqa: E402
from bench.report import json_flag, print_json  # noqa: E402
from ingest.contract import RawArticle  # noqa: E402
from newsflow.clients import kafka_admin, kafka_producer  # noqa: E402
from newsflow.errors import Rejected  # noqa: E402
from newsflow.settings import load_settings  # noqa: E402
from newsflow.topics import ensure_topics  # noqa: E402
from tests.helpers import read_topic  # noqa: E402
from transform.normalize import normalize  # noqa: E402


def raw_articles(count: int) -> list[RawArticle]:
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text())
    pages = [
        (page_id, gzip.decompress((BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace"))
        for page_id in sorted(truth)
    ]
    now = datetime.now(UTC)
    articles = []
    for n in range(count):
        page_id, html = pages[n % len(pages)]
        url = f"{truth[page_id]['url']}?copy={n}"
        articles.append(raw_page(f"{n:064x}", "bench", url, html, now))
    return articles


def bare_loop(articles: list[RawArticle], min_words: int) -> tuple[float, float]:
    """pages/s and peak MiB of a plain loop over normalize (run in a child process)."""
    started = time.perf_counter()
    for raw in articles:
        with suppress(Rejected):
            normalize(raw, datetime.now(UTC), min_words)
    return len(articles) / (time.perf_counter() - started), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_run(articles: list[RawArticle], processes: int, exactly_once: bool = True) -> tuple[float, list[float]]:
    """pages/s and peak MiB of each worker process, on fresh topics and a fresh group."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_RAW": f"{prefix}.raw",
        "NEWSFLOW_TOPIC_ARTICLES": f"{prefix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"{prefix}.dlq",
        "NEWSFLOW_TRANSFORM_GROUP": prefix,
        "NEWSFLOW_TRANSFORM_METRICS_PORT": "0",
        "NEWSFLOW_TRANSFORM_EXACTLY_ONCE": str(exactly_once).lower(),
    }
    os.environ.update(env)
    settings = load_settings()
    ensure_topics(settings)
    producer = kafka_producer(settings)
    for raw in articles:
        producer.send(settings.topic_raw, key=raw.key(), value=raw.model_dump_json().encode())
    producer.flush()
    producer.close()

    worker = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "worker", "transform", "--processes", str(processes)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peaks: dict[int, float] = {}
    try:
        while True:
            for child in psutil.Process(worker.pid).children():
                with suppress(OSError, StopIteration):  # the child may have just exited
                    status = Path(f"/proc/{child.pid}/status").read_text().splitlines()
                    peaks[child.pid] = int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024
            if consumed(settings) >= len(articles):
                break
            time.sleep(2)
        done = read_topic(settings, settings.topic_articles) + read_topic(settings, settings.topic_dlq)
    finally:
        worker.terminate()
        worker.wait(timeout=120)
        admin = kafka_admin(settings)
        admin.delete_topics([settings.topic_raw, settings.topic_articles, settings.topic_dlq])
        admin.close()
    stamps = sorted(record.timestamp for record in done)
    return (len(done) - 1) / ((stamps[-1] - stamps[0]) / 1000), sorted(peaks.values())


def consumed(settings) -> int:
    """Records of news.raw the worker's group committed (cheap: no record is read; news.raw holds no
    transaction markers, which take an offset each on news.articles)."""
    admin = kafka_admin(settings)
    partitions = [TopicPartition(settings.topic_raw, p) for p in range(settings.topic_partitions)]
    committed = admin.list_group_offsets({settings.transform_group: partitions}).get(settings.transform_group, {})
    admin.close()
    return sum(max(meta.offset, 0) for meta in committed.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    json_flag(parser)
    args = parser.parse_args()
    articles = raw_articles(args.records)
    if args.bare:
        print(json.dumps(bare_loop(articles, load_settings().transform_min_words)))
        return
    bare = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--bare", "--records", str(args.records)], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    one = worker_run(articles, 1)
    two = worker_run(articles, 2)
    at_least_once = worker_run(articles, 2, exactly_once=False)
    print(f"{args.records} records from {BENCHMARK.name} pages, {os.cpu_count()} cores")
    print(f"{'':<28}{'pages/s':>9}{'vs bare':>9}  peak MiB per process")
    print(f"{'bare loop, 1 process':<28}{bare[0]:>9.1f}{1:>9.2f}  {bare[1]:.0f}")
    figures: dict[str, Any] = {"records": args.records, "bare": {"pages_per_s": bare[0], "vs_bare": 1.0, "peak_mib": bare[1]}}
    for name, key, (rate, peaks) in (
        ("worker, 1 process", "worker_1", one),
        ("worker, 2 processes", "worker_2", two),
        ("2 processes, at-least-once", "at_least_once_2", at_least_once),
    ):
        print(f"{name:<28}{rate:>9.1f}{rate / bare[0]:>9.2f}  {', '.join(f'{peak:.0f}' for peak in peaks)}")
        figures[key] = {"pages_per_s": rate, "vs_bare": rate / bare[0], "peak_mib": peaks}
    print(f"exactly-once / at-least-once, 2 processes: {two[0] / at_least_once[0]:.2f}")
    figures["exactly_once_vs_at_least_once"] = two[0] / at_least_once[0]
    print_json(args, figures)


if __name__ == "__main__":
    main()
