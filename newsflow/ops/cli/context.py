"""The settings a command runs with: loaded once per invocation, kept on Typer's context."""

from functools import cached_property

import typer

from newsflow.settings import Settings, load_settings


class Invocation:
    """One run of the `newsflow` command, as the root callback keeps it on the context for every command."""

    @cached_property
    def settings(self) -> Settings:
        # Loaded by the first command that reads them, not by the root callback: the callback runs before a
        # subcommand's --help is handled, and --help must work while a setting is bad.
        return load_settings()


def settings_of(ctx: typer.Context, **overrides: object) -> Settings:
    """The settings of this invocation; a bad setting raises ConfigError here, in the command that needs it.

    `overrides` are the values of options that stand for a setting (`--nodes` for NEWSFLOW_SERVICE_NODES):
    they count as set in the environment, so the defaults derived from them follow."""
    invocation = ctx.find_root().obj
    assert isinstance(invocation, Invocation), "the root callback puts an Invocation on the context"
    settings = invocation.settings
    return load_settings(**overrides) if overrides else settings
