"""``ocore db upgrade|current``: every plugin's migrations, in dependency order."""

from __future__ import annotations

import sys

import click

from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.output import emit_json
from ocore_flask.state import get_state, plugin_state


@click.group("db")
def db_group() -> None:
    """Database schema: apply and inspect migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_app
def upgrade_command(revision: str) -> None:
    """Apply each plugin's migrations (safe to run concurrently: an advisory lock serialises)."""
    from ocore_database import migrations

    state = get_state()
    done = migrations.upgrade(plugin_state("database").engine, state.plugins.active, revision)
    click.echo("\n".join(done) if done else "schema up to date")


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_app
def current_command(as_json: bool) -> None:
    """Each plugin's applied revision and head; exit 1 when any is behind."""
    from ocore_database import migrations

    state = get_state()
    revisions = migrations.current(plugin_state("database").engine, state.plugins.active)
    if as_json:
        emit_json(revisions)
    else:
        for name, rev in revisions.items():
            mark = "" if rev["current"] == rev["head"] else "  (behind: run `ocore db upgrade`)"
            click.echo(f"{name:<12} {rev['current'] or 'empty'} (head {rev['head']}){mark}")
    sys.exit(0 if all(r["current"] == r["head"] for r in revisions.values()) else 1)
