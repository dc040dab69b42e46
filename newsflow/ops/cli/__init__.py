"""The `newsflow` command: the root app, its command tree, and `main()`, the console script.

Each command group lives in its own module and is only wired up here. Commands are thin: they read
the settings (`context.settings_of`), call the code that does the work, and print (`terminal`).
The modules that do the work are imported inside the commands, so that a command loads only the
stages it uses.
"""

import sys

import typer

from newsflow.errors import Failure
from newsflow.ops.cli import airflow, demo, dlq, extract, pipeline, search, services, status
from newsflow.ops.cli.context import Invocation

app = typer.Typer(
    help="newsflow: news ingestion with Airflow, Kafka and Elasticsearch. "
    "Settings come from NEWSFLOW_* environment variables (see README).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(ctx: typer.Context) -> None:
    """Keep the invocation on the context: its commands read their settings from it, loaded once."""
    ctx.obj = Invocation()


# The order here is the order of `newsflow --help`: commands first, then the groups.
app.command("ingest")(pipeline.ingest)
app.command("api")(search.api)
app.command("extract")(extract.extract)
app.command("demo")(demo.demo)
app.command("status")(status.status)
app.command("airflow")(airflow.airflow)
app.add_typer(services.services_app, name="services")
app.add_typer(pipeline.topics_app, name="topics")
app.add_typer(pipeline.worker_app, name="worker")
app.add_typer(search.index_app, name="index")
app.add_typer(search.kibana_app, name="kibana")
app.add_typer(dlq.dlq_app, name="dlq")


def main() -> None:
    """The console script: a Failure ends the command with its one-line message and exit code, no traceback."""
    try:
        app()
    except Failure as exc:
        print(f"newsflow: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
