"""Every command's --help works while a setting is bad: settings are loaded by the command that reads them."""

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from newsflow.errors import ConfigError
from newsflow.ops.cli import app

BAD_SETTING = {"NEWSFLOW_KAFKA_PORT": "ninety"}


def command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of `command` and of every command under it, e.g. ("dlq", "redrive")."""
    paths = [path]
    if isinstance(command, TyperGroup):  # typer's own (vendored) click: not click.Group
        for name, subcommand in command.commands.items():
            paths += command_paths(subcommand, (*path, name))
    return paths


def test_every_commands_help_works_with_a_bad_setting():
    runner = CliRunner()
    paths = command_paths(typer.main.get_command(app))
    assert ("dlq", "redrive") in paths and ("worker", "transform") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env=BAD_SETTING)
        assert result.exit_code == 0, (path, result.output)


def test_the_bad_setting_fails_the_command_that_reads_it():
    result = CliRunner().invoke(app, ["topics", "create"], env=BAD_SETTING)
    assert isinstance(result.exception, ConfigError)
