"""The whole local stack's memory at work: Kafka, Elasticsearch, Airflow standalone, the two workers, the search API.

Needs the local services (`make services-up`) and the free Airflow port (NEWSFLOW_AIRFLOW_PORT):

    .venv/bin/python bench/stack.py [--records 3000] [--processes 2] [--api-port 8765]

1. Airflow standalone starts as `newsflow airflow` starts it (newsflow.ops.standalone: the demo's
   home under the state dir, newsflow's DAGs), and the bench waits until its API answers and its DAGs
   are parsed. Then `newsflow worker transform --processes P`, `newsflow worker index` and `newsflow
   api` start as child processes, on topics, groups and an alias of their own (`stack-...`).
2. N records (the pages of bench/extraction-benchmark under distinct URLs, as bench/pipeline.py
   makes them) are produced to the raw topic while the workers run, entities and per-language
   analysis included; meanwhile a thread asks the API a search every 0.2 s (facets, entities and
   highlights on, as the search page asks), until every document is searchable.
3. Every 0.5 s from the start: each process's share of memory (Pss: pages shared between processes,
   such as a forked child's, divided among them, so that shares add up) of the Kafka broker, the
   Elasticsearch node (with their children) and every process this bench started (Airflow's task
   and parsing processes too), summed at that moment. The stack's peak is the largest such sum; the
   goal is GOAL_MIB. The same sum for each kind of process is printed beside it.

With --json, the last line is one JSON object: `peak_mib` (the stack's peak, at one moment),
`goal_mib`, `by_process` (the largest sum at one moment by kind of process), `searches` (the API's
successful answers). Everything made (`stack-...` topics, groups, alias, indices, template) is
deleted at the end, even on failure.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.index import clean_up  # noqa: E402
from bench.pipeline import own_pipeline, produce  # noqa: E402
from bench.procfs import descendants, label, proportional_mib  # noqa: E402
from bench.report import json_flag, load, print_json  # noqa: E402
from newsflow import services  # noqa: E402
from newsflow.ops.demo.run import Worker  # noqa: E402
from newsflow.ops.standalone import Standalone  # noqa: E402
from newsflow.ops.status import IndexCounts, Probe  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.topics import ensure_topics  # noqa: E402

GOAL_MIB = 4096  # issue 20: the whole local stack within 4 GB
SAMPLE = 0.5  # seconds between two samples of every process's memory
SEARCH_PAUSE = 0.2  # seconds between two searches of the API
TIMEOUT = 900  # seconds the workers may take to make the N records searchable
QUERIES = ("election", "Tokayev reform", "climate", "police", "football", "market prices", "")


class Memory:
    """The stack's processes (the services' nodes and this bench's descendants), sampled together."""

    def __init__(self, service_pids: list[int]) -> None:
        self.service_pids = service_pids
        self.peak = 0.0  # the largest sum of the processes' shares (Pss) at one sample
        self.kinds: dict[str, float] = defaultdict(float)  # kind of process → its largest sum at one sample

    def sample(self) -> None:
        now: dict[str, float] = defaultdict(float)
        roots = [*self.service_pids, os.getpid()]
        for pid in [*self.service_pids, *(child for root in roots for child in descendants(root))]:
            share = proportional_mib(pid)
            if share is not None:
                now[label(pid)] += share
        self.peak = max(self.peak, sum(now.values()))
        for kind, mib in now.items():
            self.kinds[kind] = max(self.kinds[kind], mib)

    def by_kind(self) -> dict[str, float]:
        return dict(sorted(self.kinds.items(), key=lambda kind: -kind[1]))


def drained(probe: Probe, flow: Settings) -> bool:
    """Both workers committed everything on their topics."""
    return (
        probe.backlog(flow.transform_group, flow.topic_raw).lag == 0
        and probe.backlog(flow.index_group, flow.topic_articles).lag == 0
    )


def search_until(api: str, stop: threading.Event, answers: list[int]) -> None:
    """Ask the API a search every SEARCH_PAUSE seconds until `stop`; count its successful answers."""
    with httpx.Client(base_url=api, timeout=10) as client:
        n = 0
        while not stop.wait(SEARCH_PAUSE):
            try:
                if client.get("/search", params={"q": QUERIES[n % len(QUERIES)]}).status_code == 200:
                    answers.append(n)
            except httpx.HTTPError:
                pass  # still starting
            n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000, help="records produced while the stack runs")
    parser.add_argument("--processes", type=int, default=2, help="transform worker processes")
    parser.add_argument("--api-port", type=int, default=8765, help="port of the search API this bench starts")
    json_flag(parser)
    args = parser.parse_args()
    base = load_settings()
    running = [state.record.pid for state in services.status(base) if state.record is not None]
    if len(running) < 2:
        sys.exit("bench/stack.py: Kafka and Elasticsearch must run: `make services-up`")
    flow, env = own_pipeline(base, f"stack-{uuid.uuid4().hex[:8]}")
    logs = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    memory, stop = Memory(running), threading.Event()
    answers: list[int] = []
    documents: IndexCounts | None = None
    api = f"http://127.0.0.1:{args.api_port}"
    started = time.monotonic()
    try:
        ensure_topics(flow)
        with Standalone(base, dict(os.environ)) as airflow:
            print(f"starting Airflow standalone (log: {airflow.log}) ...", file=sys.stderr, flush=True)
            airflow.ready(base.service_start_timeout)
            while not airflow.dags()[0]:  # its DAG processor's first pass
                memory.sample()
                time.sleep(2)
            workers = [
                Worker("transform", ["transform", "--processes", str(args.processes)], env, logs / "transform.log"),
                Worker("index", ["index"], env, logs / "index.log"),
            ]
            searcher = None
            with (logs / "api.log").open("ab") as output:
                api_process = subprocess.Popen(
                    [sys.executable, "-m", "newsflow", "api", "--port", str(args.api_port)],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            try:
                print(f"producing {args.records} records to {flow.topic_raw}; logs in {logs} ...", file=sys.stderr, flush=True)
                searcher = threading.Thread(target=search_until, args=(api, stop, answers), daemon=True)
                searcher.start()
                producing = threading.Thread(target=produce, args=(flow, args.records), daemon=True)
                producing.start()
                deadline = time.monotonic() + TIMEOUT
                with Probe(flow) as probe:
                    while producing.is_alive() or not drained(probe, flow):
                        for worker in workers:
                            worker.check()
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"the workers had not caught up after {TIMEOUT} s; logs in {logs}")
                        memory.sample()
                        time.sleep(SAMPLE)
                    documents = probe.index()
                memory.sample()
            finally:
                stop.set()
                if searcher is not None:
                    searcher.join()
                api_process.terminate()
                api_process.wait(30)
                for worker in workers:
                    worker.stop()
    finally:
        clean_up(flow, [flow.index_alias], transform_group=True)

    kinds = memory.by_kind()
    print(
        f"{args.records} records through the stack in {time.monotonic() - started:.0f} s (Airflow's start included): "
        f"{documents.articles + documents.duplicates if documents else 0} documents; {len(answers)} API searches answered"
    )
    print(f"{'kind of process (all of its processes)':<44}{'peak MiB (Pss)':>16}")
    for name, mib in kinds.items():
        print(f"{name[:42]:<44}{mib:>16.0f}")
    print(f"the stack's peak (the shares summed at one moment): {memory.peak:.0f} MiB; goal {GOAL_MIB} MiB; load {load():.1f}")
    print_json(args, {"peak_mib": memory.peak, "goal_mib": GOAL_MIB, "by_process": kinds, "searches": len(answers)})


if __name__ == "__main__":
    main()
