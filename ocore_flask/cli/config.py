"""``ocore config check|show|docs|example``: they read the environment and the declarations only
(no app, no network), so they work exactly when the configuration is broken."""

from __future__ import annotations

import os
import sys

import click

from ocore_flask.cli.kit import emit, json_option
from ocore_flask.config import render
from ocore_flask.config.loader import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.errors import EX_CONFIG
from ocore_flask.manager import PluginManager


def _resolve() -> tuple[PluginManager, Config]:
    found = load_plugins(os.environ)
    return found, resolve(os.environ, found.settings, found.cross_rules, found.problems)


@click.group("config")
def config_group() -> None:
    """Validate, show and document the configuration."""


@config_group.command("check")
@json_option
def check(as_json: bool) -> None:
    """Validate the environment without touching the network; exit 0, or 78 on errors."""
    _, config = _resolve()
    if as_json:
        emit(config.report.to_dict(), as_json)
    else:
        click.echo(config.report.render_text(), err=not config.report.ok)
    sys.exit(0 if config.report.ok else EX_CONFIG)


@config_group.command("show")
@json_option
def show(as_json: bool) -> None:
    """Effective values with their source; secrets masked. Exit 78 when invalid."""
    _, config = _resolve()
    rows = render.show_rows(config)

    def text() -> str:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            value = row["value"] + (f"  ({'; '.join(row['errors'])})" if row["errors"] else "")
            click.echo(f"{row['name']:<{width}}  {row['source']:<11}  {value}")
        return "\n" + config.report.render_text()

    emit({**config.report.to_dict(), "settings": rows}, as_json, text)
    sys.exit(0 if config.report.ok else EX_CONFIG)


@config_group.command("docs")
@json_option
def docs(as_json: bool) -> None:
    """Print the settings reference (Markdown) generated from the declarations."""
    found, _ = _resolve()
    text = render.markdown(found.settings, found.cross_rules)
    emit({"markdown": text}, as_json, lambda: click.echo(text, nl=False))


@config_group.command("example")
@json_option
def example(as_json: bool) -> None:
    """Print a ready-to-fill env file."""
    found, _ = _resolve()
    text = render.example_env(found.settings, found.cross_rules)
    emit({"env": text}, as_json, lambda: click.echo(text, nl=False))
