"""``ocore plugins list``: every installed plugin, enabled or not, and what it declares."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ocore_flask.cli.output import emit_json
from ocore_flask.discovery import PluginRecord, PluginSet, load_commands, load_plugins
from ocore_flask.plugin import hook


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed plugins."""


def describe(record: PluginRecord, found: PluginSet) -> dict[str, Any]:
    """The stable JSON shape of one plugin."""
    plugin = record.plugin
    active = plugin is not None and any(p is plugin for p in found.active)
    sections = [c.name for owner, c in found.contributors if owner == record.name]
    commands = [c.name for owner, c in found.commands if owner == record.name]
    if plugin is not None and not active:
        try:
            sections = [c.name for c in hook(plugin, "health_contributors") or ()]
            commands = [c.name for c in hook(plugin, "cli_commands") or ()]
        except Exception:
            sections, commands = [], []
    return {
        "name": record.name,
        "distribution": record.distribution,
        "version": record.version,
        "description": getattr(plugin, "description", "") if plugin else "",
        "enabled": record.enabled,
        "active": active,
        "core": record.core,
        "requires": list(getattr(plugin, "requires", ()) or ()),
        "error": record.error,
        "settings": [s.name for s in getattr(plugin, "settings", ()) or ()],
        "health_sections": sections,
        "commands": commands,
    }


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
def list_plugins(as_json: bool) -> None:
    """Name, distribution and version, state, settings, health sections, commands."""
    found = load_plugins(os.environ)
    load_commands(found)
    rows = [describe(r, found) for r in found.records]
    problems = [{"variable": p.variable, "message": p.message} for p in found.problems]
    if as_json:
        emit_json({"plugins": rows, "problems": problems})
    else:
        for row in rows:
            state = "active" if row["active"] else ("enabled" if row["enabled"] else "disabled")
            if row["error"]:
                state += f" (error: {row['error']})"
            core = ", core" if row["core"] else ""
            click.echo(
                f"{row['name']}  {row['distribution'] or '-'} {row['version'] or ''}  "
                f"[{state}{core}]"
            )
            if row["description"]:
                click.echo(f"    {row['description']}")
            for label in ("requires", "settings", "health_sections", "commands"):
                if row[label]:
                    click.echo(f"    {label.replace('_', ' ')}: {', '.join(row[label])}")
        for problem in problems:
            click.echo(f"error {problem['variable']}: {problem['message']}", err=True)
    sys.exit(1 if problems else 0)
