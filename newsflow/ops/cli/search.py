"""The search side: `newsflow api` serves it, `index` keeps the index behind the alias, `kibana` sets up Kibana."""

from typing import Annotated

import typer

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import console, steps

index_app = typer.Typer(help="The Elasticsearch index behind the search alias.", no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana assets: a data view and a dashboard for the news.", no_args_is_help=True)


def api(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 in a container.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Serve the search API and the search page (http://HOST:PORT/, API docs at /docs)."""
    import uvicorn

    from search.api import create_app

    uvicorn.run(create_app(settings_of(ctx)), host=host, port=port, log_level="info")


@index_app.command("create")
def index_create(ctx: typer.Context) -> None:
    """Create the index template and the first physical index behind the alias, if missing."""
    from newsflow.clients import elasticsearch_client
    from search.index import create_index

    settings = settings_of(ctx)
    console.print(f"{settings.index_alias} → {create_index(elasticsearch_client(settings), settings)}")


@index_app.command("migrate")
def index_migrate(ctx: typer.Context) -> None:
    """Copy the index into a new physical index with the current mapping, then move the alias atomically."""
    from newsflow.clients import elasticsearch_client
    from search.index import migrate

    settings = settings_of(ctx)
    with steps(f"copying {settings.index_alias} into a new index"):
        old, new, copied = migrate(elasticsearch_client(settings), settings)
    console.print(f"{settings.index_alias}: {old} → {new}, {copied} documents copied")


@kibana_app.command("setup")
def kibana_setup(
    ctx: typer.Context,
    space: Annotated[str | None, typer.Option(help="Kibana space; default: the default space.")] = None,
) -> None:
    """Import the data views and the newsflow dashboard into Kibana (NEWSFLOW_KIBANA_URL), replacing earlier copies.

    Logs in with NEWSFLOW_ELASTICSEARCH_USERNAME and _PASSWORD when they are set.
    """
    from search.kibana import setup

    settings = settings_of(ctx)
    password = settings.elasticsearch_password.get_secret_value() if settings.elasticsearch_password else None
    result = setup(
        settings.kibana_url,
        settings.elasticsearch_username,
        password,
        alias=settings.index_alias,
        quality_index=settings.quality_index,
        space=space,
        allow_http_credentials=settings.kibana_allow_http_credentials,
    )
    console.print(
        f"imported {result.get('successCount', 0)} saved objects into {settings.kibana_url}; open the dashboard 'newsflow'"
    )
