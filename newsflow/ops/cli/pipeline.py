"""The pipeline's own commands: `newsflow ingest`, the `worker`s that consume it, and its `topics`."""

from typing import TYPE_CHECKING, Annotated

import typer

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import Advance, bars, console
from newsflow.topics import ensure_topics

if TYPE_CHECKING:  # imported by the commands that use them: `services` commands need not load the parsers
    from ingest.run import IngestSummary
    from newsflow.sources import Source

worker_app = typer.Typer(help="The pipeline's long-running workers.", no_args_is_help=True)
topics_app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)


def ingest(
    ctx: typer.Context,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source id (repeatable).")] = None,
    once: Annotated[bool, typer.Option("--once", help="One run of each source, then exit.")] = False,
) -> None:
    """Fetch new and changed articles of the sources (NEWSFLOW_SOURCES_FILE) and publish them to news.raw.

    The same code the news_ingest DAG runs, without Airflow. Without --once it keeps polling each
    source whenever it is due (its poll_interval_minutes, or adaptively) until Ctrl-C.
    """
    from ingest.run import poll, run_ingest

    settings = settings_of(ctx)
    with bars() as progress:

        def fetching(source: "Source") -> Advance:
            return progress.add(f"{source.id}: fetching")

        if once:
            for summary in run_ingest(settings, source, fetching):
                print_ingest_summary(summary)
        else:
            poll(settings, source, fetching, report=print_ingest_summary)


def print_ingest_summary(summary: "IngestSummary") -> None:
    """One line on what one run of one source did (also in `demo` and `status`)."""
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.skipped.items())) or "none"
    console.print(
        f"{summary.source_id}: discovered {summary.discovered}, new {summary.new}, changed {summary.changed}, "
        f"not modified {summary.not_modified}, failed before {summary.failed_before}, "
        f"published {summary.published}; skipped: {skipped}"
    )


@worker_app.command("transform")
def worker_transform(
    ctx: typer.Context,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes", "-p", min=1, help="Worker processes (default: NEWSFLOW_TRANSFORM_PROCESSES, else one per core)."
        ),
    ] = None,
) -> None:
    """Consume news.raw, publish clean articles to news.articles and failures to news.dlq, until SIGTERM or Ctrl-C.

    Each process is a member of the consumer group NEWSFLOW_TRANSFORM_GROUP; offsets are committed
    after a batch's output is acknowledged. Metrics on http://127.0.0.1:NEWSFLOW_TRANSFORM_METRICS_PORT/metrics.
    """
    from transform.worker import run

    settings = settings_of(ctx)
    ensure_topics(settings)
    run(settings, processes)


@worker_app.command("index")
def worker_index(ctx: typer.Context) -> None:
    """Consume news.articles and index each article into the index alias (NEWSFLOW_INDEX_ALIAS), until SIGTERM or Ctrl-C.

    Documents get _id = article id and an external version = content time, so re-deliveries and
    older versions change nothing; near-duplicates get duplicate_of. While Elasticsearch is
    unavailable, consumption pauses and the batch is retried.
    """
    from search.indexer import run

    settings = settings_of(ctx)
    ensure_topics(settings)
    run(settings)


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create news.raw, news.articles and news.dlq (names and sizes from settings) if missing."""
    created = ensure_topics(settings_of(ctx))
    console.print(f"created: {', '.join(created)}" if created else "all topics already exist")
