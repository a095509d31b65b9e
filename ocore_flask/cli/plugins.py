"""``ocore plugins list``: every installed plugin, enabled or not, and what it declares."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ocore_flask.cli.kit import emit, json_option
from ocore_flask.config.sections import settings_of
from ocore_flask.discovery import load_commands, load_contributors, load_plugins
from ocore_flask.manager import PluginManager, PluginRecord


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed plugins."""


def describe(record: PluginRecord, found: PluginManager) -> dict[str, Any]:
    """The stable JSON shape of one plugin."""
    plugin = record.plugin
    active = plugin is not None and any(p is plugin for p in found.active)
    declared: dict[str, list[str]] = {hook: [] for hook in _DECLARATIONS}
    if plugin is not None:
        for hook in _DECLARATIONS:
            if active:
                items = [item for owner, item in found.collect(hook) if owner == record.name]
            else:
                items = _declared_by_inactive(found, plugin, hook)
            declared[hook] = [_item_name(item) for item in items]
    return {
        "name": record.name,
        "distribution": record.distribution,
        "version": record.version,
        "description": plugin.description if plugin else "",
        "enabled": record.enabled,
        "active": active,
        "core": record.core,
        "requires": list(plugin.requires) if plugin else [],
        "error": record.error,
        "hooks": sorted(plugin.hooks) if plugin else [],
        "settings": [s.name for s in found.settings if s.owner == record.name]
        or _own_settings(plugin),
        "health_sections": declared["health_contributors"],
        "commands": declared["cli_commands"],
        "routes": declared["api_blueprints"],
        "tasks": declared["tasks"],
    }


_DECLARATIONS = ("health_contributors", "cli_commands", "api_blueprints", "tasks")


def _declared_by_inactive(found: PluginManager, plugin: Any, hook: str) -> list[Any]:
    """What a disabled plugin would declare (it may fail: it is not in use)."""
    if not found.implements(plugin, hook):
        return []
    try:
        return list(found.call(plugin, hook) or ())
    except Exception:
        return []


def _item_name(item: Any) -> str:
    prefix = getattr(item, "url_prefix", None)
    return f"{item.name} {prefix}" if prefix else str(getattr(item, "name", item))


def _own_settings(plugin: Any) -> list[str]:
    return [s.name for s in settings_of(plugin.settings)] if plugin and plugin.settings else []


@plugins_group.command("list")
@json_option
def list_plugins(as_json: bool) -> None:
    """Name, distribution and version, state, settings, health sections, commands."""
    found = load_plugins(os.environ)
    load_commands(found)
    load_contributors(found)
    rows = [describe(r, found) for r in found.records]
    problems = [{"variable": p.variable, "message": p.message} for p in found.problems]

    def text() -> None:
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
            for label in ("requires", "settings", "health_sections", "commands", "routes", "tasks"):
                if row[label]:
                    click.echo(f"    {label.replace('_', ' ')}: {', '.join(row[label])}")
        for problem in problems:
            click.echo(f"error {problem['variable']}: {problem['message']}", err=True)

    emit({"plugins": rows, "problems": problems}, as_json, text)
    sys.exit(1 if problems else 0)
