"""`newsflow status`: one screen on what the pipeline holds, read from Kafka, Elasticsearch and ingest's state."""

import typer

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.pipeline import print_ingest_summary
from newsflow.ops.cli.terminal import console


def status(ctx: typer.Context) -> None:
    """One screen on the pipeline: services, topics, consumer lag, the index, dead letters, last ingest runs."""
    from ingest.run import IngestSummary
    from ingest.state import SeenStore
    from newsflow.ops.status import Probe, by_reason

    settings = settings_of(ctx)
    with Probe(settings) as probe:
        console.print(f"kafka {settings.kafka_bootstrap_servers}: {probe.brokers()} broker(s)")
        health = probe.health()
        console.print(f"elasticsearch {settings.elasticsearch_url}: {health}")
        sizes = ", ".join(
            f"{topic} {probe.records(topic)}" for topic in (settings.topic_raw, settings.topic_articles, settings.topic_dlq)
        )
        console.print(f"topics (offsets, transaction markers included): {sizes}")
        for group, topic in ((settings.transform_group, settings.topic_raw), (settings.index_group, settings.topic_articles)):
            backlog = probe.backlog(group, topic)
            console.print(f"lag: {group} on {topic}: {backlog.lag} of {backlog.end}")
        counts = probe.index() if health.startswith("cluster") else None
        console.print(
            f"index {settings.index_alias}: "
            + (
                f"{counts.articles} articles, {counts.duplicates} near-duplicates, {counts.size_bytes / 2**20:.1f} MiB"
                if counts
                else "not available"
            )
        )
        letters = by_reason(probe.dead_letters())
        console.print("dead letters: " + (", ".join(f"{reason} {count}" for reason, count in sorted(letters.items())) or "none"))
    store = SeenStore.open(settings)
    try:
        runs = store.last_runs()
    finally:
        store.close()
    console.print("last ingest runs:" + ("" if runs else " none"))
    for _source_id, finished_at, summary in runs:  # the summary names its source
        console.print(f"  {finished_at:%Y-%m-%d %H:%M:%S} UTC  ", end="")
        print_ingest_summary(IngestSummary.model_validate_json(summary))
