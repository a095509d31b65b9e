"""The ``ocore`` group: built-ins, plugin commands, and names plugins may not take."""

from __future__ import annotations

from click.testing import CliRunner

from ocore_flask.cli import BUILTIN, ocore
from ocore_flask.discovery import RESERVED_COMMANDS


def test_reserved_command_names_are_exactly_the_builtins():
    assert set(BUILTIN) == RESERVED_COMMANDS


def test_help_lists_builtins_and_first_party_plugin_commands():
    result = CliRunner().invoke(ocore, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name in [*BUILTIN, "db", "vault", "mail", "ssh"]:
        assert f"\n  {name} " in listed
