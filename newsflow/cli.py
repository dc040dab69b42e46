"""The `newsflow` command line. Commands are thin: they read settings, call a module, print."""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from newsflow import services
from newsflow.errors import ConfigError, NewsflowError
from newsflow.settings import Settings, load_settings
from newsflow.topics import ensure_topics

app = typer.Typer(
    help="newsflow: news ingestion with Airflow, Kafka and Elasticsearch. "
    "Settings come from NEWSFLOW_* environment variables (see README).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
services_app = typer.Typer(
    help="Run a local Kafka 4 broker and Elasticsearch 9 node from Maven Central artifacts "
    "(Java and Maven needed; no Docker). Their files live under NEWSFLOW_STATE_DIR.",
    no_args_is_help=True,
)
topics_app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(topics_app, name="topics")
worker_app = typer.Typer(help="The pipeline's long-running workers.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")
index_app = typer.Typer(help="The Elasticsearch index behind the search alias.", no_args_is_help=True)
app.add_typer(index_app, name="index")
kibana_app = typer.Typer(help="Kibana assets: a data view and a dashboard for the news.", no_args_is_help=True)
app.add_typer(kibana_app, name="kibana")

console = Console(highlight=False, soft_wrap=True)  # piped output keeps one line per item

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help=f"Services to act on, among: {', '.join(services.SERVICES)}. Default: all.", show_default=False),
]


@contextmanager
def progress(first_step: str) -> Iterator[Callable[[str], None]]:
    """A spinner showing the current step; each finished step stays printed above it."""
    with console.status(first_step) as status:

        def report(step: str) -> None:
            console.print(step)
            status.update(step)

        yield report


@services_app.command("up")
def services_up(names: ServiceNames = None) -> None:
    """Start the services and wait until they are healthy. Already running ones are left alone.

    The first run resolves Kafka and Elasticsearch from Maven Central into ~/.m2; later runs
    need no network.
    """
    with progress("starting local services") as report:
        services.up(load_settings(), names or (), report=report)


@services_app.command("down")
def services_down(
    names: ServiceNames = None,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete the services' data (topics, indices).")] = False,
) -> None:
    """Stop the services that `up` started. Their data is kept unless --wipe."""
    services.down(load_settings(), names or (), wipe=wipe, report=console.print)


@services_app.command("status")
def services_status(names: ServiceNames = None) -> None:
    """Show version, health, pid and ports of each service; exit 1 unless all are healthy."""
    states = services.status(load_settings(), names or ())
    for state in states:
        console.print(state.describe())
    if not all(state.health and state.health.healthy for state in states):
        raise typer.Exit(1)


@services_app.command("logs")
def services_logs(
    names: ServiceNames = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many of the last lines to show.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
) -> None:
    """Show the end of each service's log file."""
    chosen = services.select(load_settings(), names or ())
    for service in chosen:
        console.rule(f"{service.name}: {service.log}")
        if service.log.is_file():
            with service.log.open(errors="replace") as log:
                sys.stdout.writelines(log.readlines()[-lines:])
    if follow:
        if len(chosen) != 1:
            raise ConfigError("--follow needs exactly one service name")
        _follow(chosen[0].log)


def _follow(path) -> None:
    with path.open(errors="replace") as log:
        log.seek(0, 2)
        while True:
            line = log.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.5)


@app.command("ingest")
def ingest(
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source id (repeatable).")] = None,
    once: Annotated[bool, typer.Option("--once", help="One run of each source, then exit.")] = False,
) -> None:
    """Fetch new and changed articles of the sources (NEWSFLOW_SOURCES_FILE) and publish them to news.raw.

    The same code the news_ingest DAG runs, without Airflow. Without --once it keeps polling each
    source at its poll_interval_minutes until Ctrl-C.
    """
    from ingest.run import poll, run_ingest  # here: `services` commands need not load the parsers

    settings = load_settings()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    ) as bars:

        def progress(source) -> Callable[[int, int], None]:
            bar = bars.add_task(f"{source.id}: fetching", total=None)
            return lambda done, total: bars.update(bar, completed=done, total=total)

        if once:
            for summary in run_ingest(settings, source, progress):
                _print_summary(summary)
        else:
            poll(settings, source, progress, report=_print_summary)


def _print_summary(summary) -> None:
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.skipped.items())) or "none"
    console.print(
        f"{summary.source_id}: discovered {summary.discovered}, new {summary.new}, changed {summary.changed}, "
        f"not modified {summary.not_modified}, failed before {summary.failed_before}, "
        f"published {summary.published}; skipped: {skipped}"
    )


@worker_app.command("transform")
def worker_transform(
    processes: Annotated[int | None, typer.Option("--processes", "-p", min=1, help="Worker processes (default: NEWSFLOW_TRANSFORM_PROCESSES, else one per core).")] = None,
) -> None:
    """Consume news.raw, publish clean articles to news.articles and failures to news.dlq, until SIGTERM or Ctrl-C.

    Each process is a member of the consumer group NEWSFLOW_TRANSFORM_GROUP; offsets are committed
    after a batch's output is acknowledged. Metrics on http://127.0.0.1:NEWSFLOW_TRANSFORM_METRICS_PORT/metrics.
    """
    from transform.worker import run

    settings = load_settings()
    ensure_topics(settings)
    run(settings, processes)


@worker_app.command("index")
def worker_index() -> None:
    """Consume news.articles and index each article into the index alias (NEWSFLOW_INDEX_ALIAS), until SIGTERM or Ctrl-C.

    Documents get _id = article id and an external version = content time, so re-deliveries and
    older versions change nothing; near-duplicates get duplicate_of. While Elasticsearch is
    unavailable, consumption pauses and the batch is retried.
    """
    from search.indexer import run

    settings = load_settings()
    ensure_topics(settings)
    run(settings)


@app.command("api")
def api(
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 in a container.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Serve the search API and the search page (http://HOST:PORT/, API docs at /docs)."""
    import uvicorn

    from search.api import create_app

    uvicorn.run(create_app(load_settings()), host=host, port=port, log_level="info")


@kibana_app.command("setup")
def kibana_setup(
    space: Annotated[str | None, typer.Option(help="Kibana space; default: the default space.")] = None,
) -> None:
    """Import the data view and the newsflow dashboard into Kibana (NEWSFLOW_KIBANA_URL), replacing earlier copies.

    Logs in with NEWSFLOW_ELASTICSEARCH_USERNAME and _PASSWORD when they are set.
    """
    from search.kibana import setup

    settings = load_settings()
    password = settings.elasticsearch_password.get_secret_value() if settings.elasticsearch_password else None
    result = setup(settings.kibana_url, settings.elasticsearch_username, password, settings.index_alias, space)
    console.print(f"imported {result.get('successCount', 0)} saved objects into {settings.kibana_url}; "
                  "open the dashboard 'newsflow'")


@index_app.command("create")
def index_create() -> None:
    """Create the index template and the first physical index behind the alias, if missing."""
    from newsflow.clients import elasticsearch_client
    from search.index import create_index

    settings = load_settings()
    console.print(f"{settings.index_alias} → {create_index(elasticsearch_client(settings), settings)}")


@index_app.command("migrate")
def index_migrate() -> None:
    """Copy the index into a new physical index with the current mapping, then move the alias atomically."""
    from newsflow.clients import elasticsearch_client
    from search.index import migrate

    settings = load_settings()
    with progress(f"copying {settings.index_alias} into a new index"):
        old, new, copied = migrate(elasticsearch_client(settings), settings)
    console.print(f"{settings.index_alias}: {old} → {new}, {copied} documents copied")


@topics_app.command("create")
def topics_create() -> None:
    """Create news.raw, news.articles and news.dlq (names and sizes from settings) if missing."""
    settings: Settings = load_settings()
    created = ensure_topics(settings)
    console.print(f"created: {', '.join(created)}" if created else "all topics already exist")


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except NewsflowError as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
