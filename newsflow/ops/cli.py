"""The `newsflow` command line. Commands are thin: they read settings, call a module, print."""

import html
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from newsflow import services
from newsflow.errors import ConfigError, Failure
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
dlq_app = typer.Typer(
    help="Dead letters (news.dlq): what a stage could not process, and why. Letters are named by "
    "their place on the topic, PARTITION:OFFSET.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")

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
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
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
    console.print(
        f"imported {result.get('successCount', 0)} saved objects into {settings.kibana_url}; open the dashboard 'newsflow'"
    )


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


@app.command("extract")
def extract(
    paths: Annotated[
        list[Path], typer.Argument(help="HTML files (.html, .html.gz, named by id) or folders of them.", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object {id: {title, body, authors, ...}}.")] = False,
) -> None:
    """Extract articles from saved pages with the transform worker's own code (nothing is published).

    Each page gets what the worker would publish for it: title, body, authors, lead, language,
    word count, site name and dates with their provenance, or the reason it would be dead-lettered.
    """
    from transform.files import extract_files, page_files

    files = page_files(paths)
    results = {}
    with Progress(
        TextColumn("extracting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not console.is_terminal,
    ) as bars:
        bar = bars.add_task("extract", total=len(files))
        for page_id, fields in extract_files(files, load_settings().transform_min_words):
            results[page_id] = fields
            bars.advance(bar)
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for page_id, fields in results.items():
        if "error" in fields:
            console.print(f"{page_id}: {fields['error']}: {fields['detail']}", markup=False)
        else:
            published = (fields["published_at"] or {}).get("value", "no date")
            console.print(
                f"{page_id}: {fields['word_count']} words, {fields['language']}, {published}: {fields['title']}", markup=False
            )
    failed = sum("error" in fields for fields in results.values())
    console.print(f"{len(results)} page(s), {len(results) - failed} article(s), {failed} refused")


@app.command("demo")
def demo(
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Afterwards, keep serving the search page and API until Ctrl-C.")
    ] = True,
    external: Annotated[
        bool,
        typer.Option(
            "--external",
            help="Use the Kafka and Elasticsearch the settings point at (e.g. the docker compose stack) instead of starting local ones.",
        ),
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the search page and API.")] = 8000,
) -> None:
    """Run the whole pipeline on a bundled sample news site and show the news.

    Starts Kafka and Elasticsearch (unless running), serves three sample publishers on
    127.0.0.1 (RSS, Atom, news sitemap), runs the news_ingest DAG through Airflow while the
    transform and index workers consume, then accounts for every sample article and runs a
    sample search. Running it again adds nothing twice.
    """
    from newsflow.ops.demo.run import SAMPLE_QUERY, Demo

    settings = load_settings()
    with (
        Demo(settings, external) as sample,
        Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bars,
    ):
        stages = {name: bars.add_task(name, total=None) for name in ("ingest", "transform", "index")}
        report = sample.run(console.print, lambda stage, done, total: bars.update(stages[stage], completed=done, total=total))
        bars.stop()
        _print_demo_report(report, SAMPLE_QUERY)
        if not report.accounted:
            raise Failure("the sample articles are not all accounted for (see the report above)")
        if not report.hits or report.hits[0].article_id != report.seed_id:
            raise Failure(f"the sample search {SAMPLE_QUERY!r} did not find the seed article first")
        if serve:
            import uvicorn

            from search.api import create_app

            console.print(
                f"\nSearch page: http://127.0.0.1:{port}/   API: http://127.0.0.1:{port}/docs   "
                f"sample site: {sample.site.base}/orda/rss.xml   (Ctrl-C stops)"
            )
            uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def _print_demo_report(report, query: str) -> None:
    from ingest.run import IngestSummary

    console.print()
    for summary in report.ingest:
        _print_summary(IngestSummary.model_validate(summary))
    seconds = report.seconds
    console.print(
        f"ingest (Airflow DAG news_ingest) done after {seconds['ingest']:.1f} s; "
        f"transform after {seconds['transform']:.1f} s ({report.transformed} records); "
        f"index after {seconds['index']:.1f} s ({report.indexed} records)"
    )
    letters = ", ".join(f"{reason} {count}" for reason, count in sorted(report.dead_letters.items())) or "none"
    mark = "✓" if report.accounted else "✗ MISMATCH"
    console.print(
        f"sample articles {report.sample_articles}: fetched {report.fetched} = searchable {report.articles} "
        f"+ duplicates {report.duplicates} + dead letters {report.dead_letters.total()} ({letters}) {mark}"
    )
    console.print(f"\nsearch {query!r}:")
    for rank, hit in enumerate(report.hits, start=1):
        seed = "  (the seed article)" if hit.article_id == report.seed_id else ""
        console.print(f"{rank}. {hit.title} [{hit.source_id}]{seed}", markup=False)
        for fragment in hit.fragments:
            console.print(Text("   … ") + _highlighted(fragment) + Text(" …"))


def _highlighted(fragment: str) -> Text:
    """An Elasticsearch highlight (HTML-escaped, matches in <mark>) as styled terminal text."""
    text = Text()
    for i, part in enumerate(re.split(r"</?mark>", fragment)):
        text.append(html.unescape(part), style="bold reverse" if i % 2 else "")
    return text


@app.command("status")
def status() -> None:
    """One screen on the pipeline: services, topics, consumer lag, the index, dead letters, last ingest runs."""
    from ingest.run import IngestSummary
    from ingest.state import SeenStore
    from newsflow.ops.status import Probe, by_reason

    settings = load_settings()
    with Probe(settings) as probe:
        console.print(f"kafka {settings.kafka_bootstrap_servers}: {probe.brokers()} broker(s)")
        health = probe.health()
        console.print(f"elasticsearch {settings.elasticsearch_url}: {health}")
        sizes = ", ".join(
            f"{topic} {probe.records(topic)}" for topic in (settings.topic_raw, settings.topic_articles, settings.topic_dlq)
        )
        console.print(f"topics (records): {sizes}")
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
    store = SeenStore.under(settings.state_dir)
    try:
        runs = store.last_runs()
    finally:
        store.close()
    console.print("last ingest runs:" + ("" if runs else " none"))
    for source_id, finished_at, summary in runs:
        console.print(f"  {finished_at:%Y-%m-%d %H:%M:%S} UTC  ", end="")
        _print_summary(IngestSummary.model_validate_json(summary))


LetterPositions = Annotated[
    list[str] | None, typer.Argument(help="Letters as PARTITION:OFFSET (see `dlq list`).", show_default=False)
]
StageOption = Annotated[str | None, typer.Option("--stage", help="Only letters of this stage: ingest, transform or index.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Only letters with this reason code, e.g. too_short.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only letters about articles of this source id.")]


@dlq_app.command("list")
def dlq_list(
    stage: StageOption = None,
    reason: ReasonOption = None,
    source: SourceOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the most recent N.")] = 50,
) -> None:
    """List dead letters, most recent last: place, time, stage/reason, source, URL or detail."""
    from newsflow.ops.dlq import read_letters, select

    settings = load_settings()
    letters = select(read_letters(settings), stage=stage, reason=reason, source_id=source)
    letters.sort(key=lambda stored: stored.written_at)
    for stored in letters[-limit:]:
        letter = stored.letter
        if letter is None:
            console.print(f"{stored.position:>8}  {stored.written_at:%Y-%m-%d %H:%M:%S}  (not a dead letter)")
            continue
        console.print(
            f"{stored.position:>8}  {stored.written_at:%Y-%m-%d %H:%M:%S}  {letter.stage}/{letter.reason}  "
            f"{letter.source_id or '-'}  {letter.url or letter.detail}",
            markup=False,
        )
    console.print(f"{len(letters)} letter(s)" + (f", the last {limit} shown" if len(letters) > limit else ""))


@dlq_app.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(help="The letter, as PARTITION:OFFSET.")],
    full: Annotated[
        bool, typer.Option("--full", help="Print the original record whole, not its first 2,000 characters.")
    ] = False,
) -> None:
    """Print one dead letter as JSON: stage, reason, detail, article, origin and the original record."""
    from newsflow.ops.dlq import read_letters, select

    (stored,) = select(read_letters(load_settings()), [position])
    if stored.letter is None:
        raise Failure(f"the record at {position} is not a dead letter")
    letter = stored.letter
    if letter.original and not full and len(letter.original) > 2000:
        letter = letter.model_copy(
            update={"original": letter.original[:2000] + f"… ({len(letter.original)} characters; --full shows all)"}
        )
    console.print_json(letter.model_dump_json())


@dlq_app.command("redrive")
def dlq_redrive(
    positions: LetterPositions = None,
    stage: StageOption = None,
    reason: ReasonOption = None,
    source: SourceOption = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every letter (that matches the filters).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be sent back.")] = False,
) -> None:
    """Send chosen dead letters back to the stage that failed them, once the cause is fixed.

    Transform and index letters: their original record goes back to the topic it was read from.
    Ingest letters: the page is fetched again at the source's next ingest run. Downstream is
    idempotent, so a letter redriven twice stores nothing twice.
    """
    from newsflow.ops.dlq import read_letters, redrive, select

    if not (positions or stage or reason or source or all_letters):
        raise ConfigError("choose letters: PARTITION:OFFSET arguments, --stage, --reason, --source, or --all")
    settings = load_settings()
    chosen = select(read_letters(settings), positions or [], stage, reason, source)
    if dry_run:
        console.print(f"would redrive {len(chosen)} letter(s): {', '.join(stored.position for stored in chosen) or 'none'}")
        return
    done = redrive(settings, chosen)
    resent = ", ".join(f"{count} to {topic}" for topic, count in sorted(done.resent.items())) or "none resent"
    console.print(
        f"redrove {len(chosen) - len(done.impossible)} letter(s): {resent}; {done.refetch} page(s) to fetch again at the next ingest run"
    )
    if done.impossible:
        console.print(f"not redrivable (their record was too large to keep): {', '.join(done.impossible)}")


def main() -> None:
    try:
        app()
    except Failure as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
