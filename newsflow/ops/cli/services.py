"""`newsflow services`: the local Kafka and Elasticsearch, started from Maven Central artifacts, and their logs."""

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from newsflow import services
from newsflow.errors import ConfigError
from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import console, steps

services_app = typer.Typer(
    help="Run a local Kafka 4 broker and Elasticsearch 9 node from Maven Central artifacts "
    "(Java and Maven needed; no Docker). Their files live under NEWSFLOW_STATE_DIR.",
    no_args_is_help=True,
)

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help=f"Services to act on, among: {', '.join(services.SERVICES)}. Default: all.", show_default=False),
]


@services_app.command("up")
def services_up(ctx: typer.Context, names: ServiceNames = None) -> None:
    """Start the services and wait until they are healthy. Already running ones are left alone.

    The first run resolves Kafka and Elasticsearch from Maven Central into ~/.m2; later runs
    need no network.
    """
    with steps("starting local services") as step:
        services.up(settings_of(ctx), names or (), report=step)


@services_app.command("down")
def services_down(
    ctx: typer.Context,
    names: ServiceNames = None,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete the services' data (topics, indices).")] = False,
) -> None:
    """Stop the services that `up` started. Their data is kept unless --wipe."""
    services.down(settings_of(ctx), names or (), wipe=wipe, report=console.print)


@services_app.command("status")
def services_status(ctx: typer.Context, names: ServiceNames = None) -> None:
    """Show version, health, pid and ports of each service; exit 1 unless all are healthy."""
    states = services.status(settings_of(ctx), names or ())
    for state in states:
        console.print(state.describe())
    if not all(state.health and state.health.healthy for state in states):
        raise typer.Exit(1)


@services_app.command("logs")
def services_logs(
    ctx: typer.Context,
    names: ServiceNames = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many of the last lines to show.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
) -> None:
    """Show the end of each service's log file."""
    chosen = services.select(settings_of(ctx), names or ())
    for service in chosen:
        console.rule(f"{service.name}: {service.log}")
        if service.log.is_file():
            with service.log.open(errors="replace") as log:
                sys.stdout.writelines(log.readlines()[-lines:])
    if follow:
        if len(chosen) != 1:
            raise ConfigError("--follow needs exactly one service name")
        _follow(chosen[0].log)


def _follow(path: Path) -> None:
    """Print what is appended to `path` from now on, until interrupted."""
    with path.open(errors="replace") as log:
        log.seek(0, 2)
        while True:
            line = log.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.5)
