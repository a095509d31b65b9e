"""The ``ocore`` group: built-ins, plugin commands, and names plugins may not take."""

from __future__ import annotations

import click
from click.testing import CliRunner

from ocore_flask import Plugin
from ocore_flask.cli import ocore
from ocore_flask.commands import HOST_COMMANDS
from ocore_flask.discovery import load_commands, load_plugins


def test_every_host_command_name_is_reserved():
    commands = [click.Command(name) for name in HOST_COMMANDS]
    found = load_plugins({}, [Plugin("grabby", hooks={"cli_commands": lambda: commands})])
    assert load_commands(found) == []
    assert len(found.problems) == len(HOST_COMMANDS)
    assert all("declared by both host and grabby" in p.message for p in found.problems)


def test_help_lists_builtins_and_first_party_plugin_commands():
    result = CliRunner().invoke(ocore, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name in [*HOST_COMMANDS, "db", "vault", "mail", "ssh"]:
        assert f"\n  {name} " in listed
