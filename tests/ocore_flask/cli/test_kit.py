"""The CLI kit: one scrubbed error line with the right exit code, one table printer, one
``--json`` convention (on every ``ocore`` command), progress on stderr only for a terminal."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy.exc import OperationalError

from ocore_flask import create_app
from ocore_flask.cli import kit, ocore
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import (
    CommandError,
    emit,
    format_table,
    json_option,
    known_errors,
    progress,
    table,
)
from ocore_flask.testing import JWT_SECRET, dev_environ

EXEMPT = {("serve",), ("dev",)}  # long-running servers: nothing to report as one document


class Refused(Exception):
    """A "known" failure of the commands under test."""


def invoke(command: click.Command, *args: str, app: bool = False):
    """Run ``command`` in-process; ``app=True`` gives it a host-only development app."""
    obj = ScriptInfo(create_app=lambda: create_app(dev_environ(), [])) if app else None
    return CliRunner().invoke(command, list(args), obj=obj)


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


# --- one error path ---------------------------------------------------------------------------


def test_a_configured_secret_in_an_error_is_masked_and_the_message_is_one_line():
    @click.command()
    @with_app
    def leak() -> None:
        with known_errors(Refused, exit_code=255):
            raise Refused(f"cannot log in\n  with   {JWT_SECRET}\n\tpassword=hunter2-Xy")

    result = invoke(leak, app=True)
    assert result.exit_code == 255
    line = one_error_line(result)
    assert line == "error: cannot log in with *** password=***"
    assert JWT_SECRET not in result.output and "hunter2" not in result.output


def test_credential_shapes_are_masked_without_an_app():
    @click.command()
    def shapes() -> None:
        raise CommandError("cannot reach postgresql://ocore:Pa55-word@db/ocore\ttoken: abc123", 3)

    result = invoke(shapes)
    assert result.exit_code == 3
    assert (
        one_error_line(result) == "error: cannot reach postgresql://ocore:***@db/ocore token: ***"
    )


def test_database_errors_show_the_first_line_of_the_driver_message():
    driver = Exception("could not connect to server: Connection refused\nIs the server running?")

    @click.command()
    def database() -> None:
        with known_errors():
            raise OperationalError("SELECT 1", {}, driver)

    result = invoke(database)
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "error: database error: could not connect to server: Connection refused"
    )


def test_usage_errors_keep_exit_2_and_unexpected_errors_are_not_hidden():
    @click.command()
    @click.argument("mode")
    def command(mode: str) -> None:
        with known_errors(Refused):
            if mode == "usage":
                raise click.UsageError("--a needs --b")
            raise KeyError("a bug")

    usage = invoke(command, "usage")
    assert usage.exit_code == 2 and "--a needs --b" in usage.stderr
    bug = invoke(command, "bug")
    assert isinstance(bug.exception, KeyError)


def test_the_kit_imports_neither_flask_nor_sqlalchemy():
    probe = (
        "import sys, ocore_flask.cli.kit; print(sorted({'flask', 'sqlalchemy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- table, --json, progress ------------------------------------------------------------------


def test_table_aligns_columns_two_spaces_apart_without_trailing_blanks():
    text = format_table(("NAME", "ROWS", "KEY"), [("a", 12, "active"), ("longer", 3, "")])
    assert text.splitlines() == ["NAME    ROWS  KEY", "a       12    active", "longer  3"]

    @click.command()
    def printed() -> None:
        table(("A", "B"), [("x", "y")])

    assert invoke(printed).stdout == "A  B\nx  y\n"


@click.command()
@json_option
def report(as_json: bool) -> None:
    progress("step 1 of 1")
    emit({"done": ["a"], "count": 1}, as_json, lambda: "done: a")


def test_emit_prints_one_json_document_or_the_text():
    assert json.loads(invoke(report, "--json").stdout) == {"done": ["a"], "count": 1}
    assert invoke(report).stdout == "done: a\n"


def test_progress_goes_to_a_terminal_stderr_only_and_never_under_json(monkeypatch):
    assert invoke(report).stderr == ""  # CliRunner's stderr is not a terminal
    monkeypatch.setattr(kit, "_stderr_is_terminal", lambda: True)
    assert invoke(report).stderr == "step 1 of 1\n"
    as_json = invoke(report, "--json")
    assert as_json.stderr == "" and json.loads(as_json.stdout)["count"] == 1


# --- every ocore command takes --json ---------------------------------------------------------


def leaves(command: click.Command, ctx: click.Context, path: tuple[str, ...] = ()):
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from leaves(sub, click.Context(sub, parent=ctx, info_name=name), (*path, name))
    else:
        yield path, command


def test_every_ocore_command_accepts_json():
    found = dict(leaves(ocore, click.Context(ocore, info_name="ocore")))
    expected = {("vault", "rotate"), ("ssh", "run"), ("mail", "test"), ("db", "upgrade")}
    assert expected | {("config", "docs"), ("health",)} <= set(found)
    missing = [
        " ".join(path)
        for path, command in found.items()
        if path not in EXEMPT and not any("--json" in p.opts for p in command.params)
    ]
    assert missing == []
    for path, command in found.items():
        if path not in EXEMPT:
            (option,) = [p for p in command.params if "--json" in p.opts]
            assert option.name == "as_json" and option.is_flag, path
