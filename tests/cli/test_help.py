"""Every command's ``--help`` is whole: each option's help text appears in full."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

import embercast.cli as cli

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_every_help_shows_every_option_in_full() -> None:
    root = typer.main.get_command(cli.app)
    seen = 0
    for path in _commands(root):
        result = runner.invoke(cli.app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        shown = " ".join(result.stdout.split())
        command = root
        for name in path:
            command = command.commands[name]
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                assert " ".join(text.split()) in shown, (path, param.name)
                seen += 1
    assert seen > 50  # the walk reached the commands' options
