"""`newsflow services`: the local Kafka and Elasticsearch (one node each, or clusters of --nodes), started from Maven
Central artifacts, Redis for Airflow's CeleryExecutor when named, and their logs."""

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from newsflow import services
from newsflow.errors import ConfigError
from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import console, steps
from newsflow.settings import Settings

services_app = typer.Typer(
    help="Run a local Kafka 4 broker and Elasticsearch 9 node from Maven Central artifacts, or a cluster of "
    "--nodes of each on loopback (Java and Maven needed; no Docker), and, when named, Redis from Debian's redis-server "
    "for Airflow's CeleryExecutor. Their files live under NEWSFLOW_STATE_DIR.",
    no_args_is_help=True,
)

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Services to act on, among: {', '.join(services.SERVICES)}; or one node of a cluster, as kafka-2. "
        f"Default: {' and '.join(services.DEFAULT)}, and the others only if they run (redis starts only when named: "
        "the broker of Airflow's CeleryExecutor, from Debian's redis-server).",
        show_default=False,
    ),
]
Nodes = Annotated[
    int | None,
    typer.Option(
        "--nodes",
        min=1,
        max=9,
        help="Nodes of each service: 3 runs a Kafka cluster and an Elasticsearch cluster, node i on each port + 10 × i. "
        "Default: NEWSFLOW_SERVICE_NODES (1). The other commands reach a cluster with NEWSFLOW_SERVICE_NODES set alike.",
        show_default=False,
    ),
]


def _settings(ctx: typer.Context, nodes: int | None) -> Settings:
    return settings_of(ctx) if nodes is None else settings_of(ctx, service_nodes=nodes)


@services_app.command("up")
def services_up(ctx: typer.Context, names: ServiceNames = None, nodes: Nodes = None) -> None:
    """Start the services and wait until they are healthy. Already running ones are left alone.

    The first run resolves Kafka and Elasticsearch from Maven Central into ~/.m2; later runs
    need no network. Redis starts only when named (`up redis`), from Debian's redis-server.
    """
    settings = _settings(ctx, nodes)
    with steps("starting local services") as step:
        services.up(settings, names or (), report=step)
    if settings.service_nodes != settings_of(ctx).service_nodes:
        console.print(
            f"the other newsflow commands reach these clusters with NEWSFLOW_SERVICE_NODES={settings.service_nodes} "
            "in their environment"
        )


@services_app.command("down")
def services_down(
    ctx: typer.Context,
    names: ServiceNames = None,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete the services' data (topics, indices).")] = False,
    nodes: Nodes = None,
) -> None:
    """Stop the services that `up` started. Their data is kept unless --wipe."""
    services.down(_settings(ctx, nodes), names or (), wipe=wipe, report=console.print)


@services_app.command("status")
def services_status(ctx: typer.Context, names: ServiceNames = None, nodes: Nodes = None) -> None:
    """Show version, health, pid and ports of each node; exit 1 unless all are healthy.

    Of clusters, also their brokers and nodes, the Kafka controller and the elected Elasticsearch master,
    under-replicated partitions and unassigned shards.
    """
    settings = _settings(ctx, nodes)
    states = services.status(settings, names or ())
    for state in states:
        console.print(state.describe())
    if settings.local_cluster:
        for line in services.cluster_status(settings):
            console.print(line)
    if not all(state.health and state.health.healthy for state in states):
        raise typer.Exit(1)


@services_app.command("logs")
def services_logs(
    ctx: typer.Context,
    names: ServiceNames = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many of the last lines to show.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    nodes: Nodes = None,
) -> None:
    """Show the end of each node's log file."""
    chosen = services.select(_settings(ctx, nodes), names or ())
    for service in chosen:
        console.rule(f"{service.name}: {service.log}")
        if service.log.is_file():
            with service.log.open(errors="replace") as log:
                sys.stdout.writelines(log.readlines()[-lines:])
    if follow:
        if len(chosen) != 1:
            raise ConfigError("--follow needs exactly one service name (one node's, as kafka-2, on a cluster)")
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
