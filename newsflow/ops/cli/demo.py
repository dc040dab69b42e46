"""`newsflow demo`: runs the demo (newsflow.ops.demo), shows its report, then serves the search page."""

import html
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.pipeline import print_ingest_summary
from newsflow.ops.cli.terminal import bars, console

if TYPE_CHECKING:  # imported by the command: other commands need not load the demo
    from newsflow.ops.demo.run import Report


def demo(
    ctx: typer.Context,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Afterwards, keep serving the search page and API until Ctrl-C.")
    ] = True,
    external: Annotated[
        bool,
        typer.Option(
            "--external",
            help="Use the Kafka and Elasticsearch the settings point at (e.g. the docker compose stack) "
            "instead of starting local ones.",
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
    from newsflow.ops.demo.run import Demo

    settings = settings_of(ctx)
    with Demo(settings, external) as sample:
        with bars() as progress:
            stages = {name: progress.add(name) for name in ("ingest", "transform", "index")}
            report = sample.run(console.print, lambda stage, done, total: stages[stage](done, total))
        _print_report(report)
        report.check()
        if serve:
            import uvicorn

            from search.api import create_app

            console.print(
                f"\nSearch page: http://127.0.0.1:{port}/   API: http://127.0.0.1:{port}/docs   "
                f"sample site: {sample.site.base}/orda/rss.xml   (Ctrl-C stops)"
            )
            uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def _print_report(report: "Report") -> None:
    from ingest.run import IngestSummary

    console.print()
    for summary in report.ingest:
        print_ingest_summary(IngestSummary.model_validate(summary))
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
    console.print(f"\nsearch {report.query!r}:")
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
