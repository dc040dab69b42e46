"""Prometheus metrics of the transform workers, summed over their processes.

The worker processes write their values to files under PROMETHEUS_MULTIPROC_DIR (prometheus
client's multiprocess mode), which the supervisor sets before it starts them and reads when
it serves /metrics. Import this module only after that variable is set.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

RECORDS = Counter(
    "newsflow_transform_records",
    "Records of news.raw by outcome (published, filtered, dead_lettered) and reason.",
    ["outcome", "reason"],
)
EXTRACTION_SECONDS = Histogram(
    "newsflow_transform_extraction_seconds",
    "Time to turn one page into an article.",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
COMMIT_SECONDS = Histogram("newsflow_transform_commit_seconds", "Time to flush a batch's output and commit its offsets.")
CONSUMER_LAG = Gauge(
    "newsflow_transform_consumer_lag",
    "Records of news.raw not yet consumed by the group.",
    multiprocess_mode="livesum",
)


def serve(port: int) -> None:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr="127.0.0.1", registry=registry)
