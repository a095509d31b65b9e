"""``ocore config check|show|docs|example``: they read the environment and the declarations only
(no app, no network), so they work exactly when the configuration is broken."""

from __future__ import annotations

import os
import sys

import click

from ocore_flask.cli.output import emit_json
from ocore_flask.config import render
from ocore_flask.config.loader import Config, resolve
from ocore_flask.discovery import PluginSet, load_plugins
from ocore_flask.errors import EX_CONFIG


def _resolve() -> tuple[PluginSet, Config]:
    found = load_plugins(os.environ)
    return found, resolve(os.environ, found.settings, found.rules, found.problems)


@click.group("config")
def config_group() -> None:
    """Validate, show and document the configuration."""


@config_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def check(as_json: bool) -> None:
    """Validate the environment without touching the network; exit 0, or 78 on errors."""
    _, config = _resolve()
    if as_json:
        emit_json(config.report.to_dict())
    else:
        click.echo(config.report.render_text(), err=not config.report.ok)
    sys.exit(0 if config.report.ok else EX_CONFIG)


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
def show(as_json: bool) -> None:
    """Effective values with their source; secrets masked. Exit 78 when invalid."""
    _, config = _resolve()
    rows = render.show_rows(config)
    if as_json:
        emit_json({**config.report.to_dict(), "settings": rows})
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            value = row["value"] + (f"  ({'; '.join(row['errors'])})" if row["errors"] else "")
            click.echo(f"{row['name']:<{width}}  {row['source']:<11}  {value}")
        click.echo("")
        click.echo(config.report.render_text())
    sys.exit(0 if config.report.ok else EX_CONFIG)


@config_group.command("docs")
def docs() -> None:
    """Print the settings reference (Markdown) generated from the declarations."""
    found, _ = _resolve()
    click.echo(render.markdown(found.settings, found.rules), nl=False)


@config_group.command("example")
def example() -> None:
    """Print a ready-to-fill env file."""
    found, _ = _resolve()
    click.echo(render.example_env(found.settings, found.rules), nl=False)
