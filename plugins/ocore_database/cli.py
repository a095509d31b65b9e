"""``ocore db upgrade|current``: every plugin's migrations, in dependency order. Alembic loads
inside the commands: building the ``ocore`` command tree (``ocore --help``) stays light."""

from __future__ import annotations

import sys

import click

import ocore_database
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option, known_errors, progress
from ocore_flask.state import get_state


@click.group("db")
def db_group() -> None:
    """Database schema: apply and inspect migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@json_option
@with_app(repair=True)  # no "schema behind: run ocore db upgrade" while running it
def upgrade_command(revision: str, as_json: bool) -> None:
    """Apply each plugin's migrations (safe to run concurrently: an advisory lock serialises)."""
    from alembic.util import CommandError as AlembicError

    from ocore_database import migrations

    plugins = get_state().plugins.active
    total = len(migrations.collect(plugins))
    steps: dict[str, dict[str, str | None]] = {}

    def done(name: str, before: str | None, after: str | None) -> None:
        steps[name] = {"before": before, "after": after}
        change = f"{before or 'empty'} -> {after}" if before != after else f"at {after}"
        progress(f"db upgrade: {name} {change} ({len(steps)}/{total})")

    with known_errors(AlembicError):
        lines = migrations.upgrade(ocore_database.engine(), plugins, revision, on_plugin=done)
    upgraded = [name for name, step in steps.items() if step["before"] != step["after"]]
    result = {"revision": revision, "upgraded": upgraded, "plugins": steps}
    emit(result, as_json, "\n".join(lines) if lines else "schema up to date")


@db_group.command("current")
@json_option
@with_app(repair=True)  # no "schema behind: run ocore db upgrade" while running it
def current_command(as_json: bool) -> None:
    """Each plugin's applied revision and head; exit 1 when any is behind."""
    from ocore_database import migrations

    with known_errors():
        revisions = migrations.current(ocore_database.engine(), get_state().plugins.active)

    def text() -> None:
        for name, rev in revisions.items():
            mark = "" if rev["current"] == rev["head"] else "  (behind: run `ocore db upgrade`)"
            click.echo(f"{name:<12} {rev['current'] or 'empty'} (head {rev['head']}){mark}")

    emit(revisions, as_json, text)
    sys.exit(0 if all(r["current"] == r["head"] for r in revisions.values()) else 1)


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [db_group]
