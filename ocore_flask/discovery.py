"""Find plugins, switch off the disabled ones, order them by ``requires`` and reject duplicates.

Problems become lines of the configuration report, so an operator sees plugin and setting
mistakes in one go. The host names no plugin: everything here is driven by the entry points.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from ocore_flask import settings as host_settings
from ocore_flask.config import kinds
from ocore_flask.config.declarations import CrossRule, Setting
from ocore_flask.config.report import Problem
from ocore_flask.plugin import ENTRY_POINT_GROUP, hook

HOST = "host"
DISABLE_VARIABLE = "OCORE_DISABLED_PLUGINS"
RESERVED_COMMANDS = frozenset({"config", "plugins", "health", "serve", "dev"})


@dataclass
class PluginRecord:
    """What is known about one installed plugin, loaded or not."""

    name: str
    plugin: Any | None
    distribution: str | None = None
    version: str | None = None
    enabled: bool = True
    error: str | None = None

    @property
    def label(self) -> str:
        """``name (distribution version)`` for messages."""
        if self.distribution:
            return f"{self.name} ({self.distribution} {self.version})"
        return self.name

    @property
    def core(self) -> bool:
        """Whether the plugin declares itself core (cannot be disabled)."""
        return bool(getattr(self.plugin, "core", False))


@dataclass
class PluginSet:
    """The outcome of discovery: active plugins in init order and everything they declare."""

    records: list[PluginRecord] = field(default_factory=list)
    active: list[Any] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    rules: list[CrossRule] = field(default_factory=list)
    contributors: list[tuple[str, Any]] = field(default_factory=list)
    commands: list[tuple[str, Any]] = field(default_factory=list)
    commands_loaded: bool = False
    problems: list[Problem] = field(default_factory=list)

    def record(self, name: str) -> PluginRecord | None:
        """The record of plugin ``name``."""
        return next((r for r in self.records if r.name == name), None)


def load_plugins(environ: Mapping[str, str], explicit: Sequence[Any] | None = None) -> PluginSet:
    """Discover (or take ``explicit``), disable, validate, order and collect declarations."""
    disabled = _disabled_names(environ)
    found = PluginSet()
    if explicit is None:
        found.records = _from_entry_points(disabled)
    else:
        found.records = [
            PluginRecord(
                getattr(p, "name", "?"), p, enabled=getattr(p, "name", "?") not in disabled
            )
            for p in explicit
        ]
    _check_records(found, disabled)
    usable = {
        r.name: r for r in found.records if r.enabled and r.plugin is not None and not r.error
    }
    found.active = [usable[name].plugin for name in _order(usable, found)]
    _collect_declarations(found)
    return found


def plugins_of(distribution: str) -> list[Any]:
    """The plugin objects one distribution publishes (e.g. ``ocore-flask``'s first-party ones),
    for docs and tests that must not depend on what else is installed."""
    return [
        ep.load()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        if ep.dist is not None and ep.dist.name == distribution
    ]


def _disabled_names(environ: Mapping[str, str]) -> frozenset[str]:
    try:
        return frozenset(kinds.names_list().parse(environ.get(DISABLE_VARIABLE, "")))
    except ValueError:
        return frozenset()  # the configuration report names the malformed variable


def _from_entry_points(disabled: frozenset[str]) -> list[PluginRecord]:
    records = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        record = PluginRecord(
            ep.name,
            None,
            dist.name if dist else None,
            dist.version if dist else None,
            enabled=ep.name not in disabled,
        )
        try:
            obj = ep.load()
            record.plugin = obj() if isinstance(obj, type) else obj
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        records.append(record)
    return records


def _check_records(found: PluginSet, disabled: frozenset[str]) -> None:
    problems, seen = found.problems, {}
    for record in found.records:
        where = f"plugin:{record.name}"
        if record.error and record.enabled:
            problems.append(
                Problem(
                    where,
                    f"{record.label} failed to load: {record.error}. Fix or uninstall it, or "
                    f"switch it off with {DISABLE_VARIABLE}={record.name}",
                    owner=record.name,
                )
            )
        declared = getattr(record.plugin, "name", record.name) if record.plugin else record.name
        if not kinds.PLUGIN_NAME_RE.match(record.name) or declared != record.name:
            problems.append(
                Problem(
                    where,
                    f"{record.label}: plugin name must be lowercase [a-z][a-z0-9_]* and equal "
                    f"its entry-point name (it declares {declared!r})",
                    owner=record.name,
                )
            )
            record.error = record.error or "invalid name"
        if record.name in seen:
            problems.append(
                Problem(
                    where,
                    f"two plugins are named {record.name!r}: {seen[record.name].label} and "
                    f"{record.label}; uninstall one",
                    owner=record.name,
                )
            )
            record.error = record.error or "duplicate name"
        seen.setdefault(record.name, record)
    names = {r.name for r in found.records}
    for name in sorted(disabled):
        record = found.record(name)
        if name not in names:
            installed = ", ".join(sorted(names)) or "none"
            problems.append(
                Problem(
                    DISABLE_VARIABLE,
                    f"names {name!r}, which is not an installed plugin (installed: {installed})",
                )
            )
        elif record is not None and record.core:
            problems.append(
                Problem(
                    DISABLE_VARIABLE,
                    f"names {name!r}, a core plugin, which cannot be disabled; remove it",
                )
            )
            record.enabled = True


def _order(usable: Mapping[str, PluginRecord], found: PluginSet) -> list[str]:
    """Topological order by ``requires``, ties broken by name; unmet needs become problems."""
    needs: dict[str, set[str]] = {}
    for name, record in usable.items():
        wanted = set(getattr(record.plugin, "requires", ()) or ())
        missing = sorted(wanted - set(usable))
        if missing:
            why = _absence(missing[0], found)
            found.problems.append(
                Problem(
                    f"plugin:{name}",
                    f"{record.label} requires plugin {missing[0]!r}, which is {why}",
                    owner=name,
                )
            )
        needs[name] = wanted & set(usable)
    ready = [n for n, w in needs.items() if not w]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, wanted in needs.items():
            if name in wanted:
                wanted.discard(name)
                if not wanted:
                    heapq.heappush(ready, other)
    stuck = sorted(set(needs) - set(order))
    if stuck:
        found.problems.append(
            Problem(
                f"plugin:{stuck[0]}",
                f"plugins {', '.join(stuck)} require each other in a cycle; break the cycle",
                owner=stuck[0],
            )
        )
    return order


def _absence(name: str, found: PluginSet) -> str:
    record = found.record(name)
    if record is None:
        return "not installed"
    if not record.enabled:
        return f"disabled by {DISABLE_VARIABLE}"
    return "not loadable"


def _collect_declarations(found: PluginSet) -> None:
    owners: dict[str, str] = {}
    sections: dict[str, str] = {}

    def claim(table: dict[str, str], key: str, owner: str, what: str) -> bool:
        if key in table:
            found.problems.append(
                Problem(
                    f"plugin:{owner}",
                    f"{what} {key!r} is declared by both {table[key]} and {owner}",
                    owner=owner,
                )
            )
            return False
        table[key] = owner
        return True

    for setting in host_settings.SETTINGS:
        claim(owners, setting.name, HOST, "setting")
        found.settings.append(dataclasses.replace(setting, owner=HOST))
    found.rules.extend(host_settings.RULES)
    for plugin in found.active:
        name = plugin.name
        for setting in getattr(plugin, "settings", ()) or ():
            if claim(owners, setting.name, name, "setting"):
                found.settings.append(dataclasses.replace(setting, owner=name))
        found.rules.extend(getattr(plugin, "rules", ()) or ())
        for contributor in _declared(found, plugin, "health_contributors"):
            if claim(sections, contributor.name, name, "health section"):
                found.contributors.append((name, contributor))


def load_commands(found: PluginSet) -> list[tuple[str, Any]]:
    """The active plugins' CLI commands, collected only when a command line needs them (they
    can import a plugin's heavier modules); a name taken twice becomes a problem."""
    if found.commands_loaded:
        return found.commands
    owners: dict[str, str] = dict.fromkeys(RESERVED_COMMANDS, HOST)
    for plugin in found.active:
        for command in _declared(found, plugin, "cli_commands"):
            if command.name in owners:
                found.problems.append(
                    Problem(
                        f"plugin:{plugin.name}",
                        f"command {command.name!r} is declared by both {owners[command.name]} "
                        f"and {plugin.name}",
                        owner=plugin.name,
                    )
                )
                continue
            owners[command.name] = plugin.name
            found.commands.append((plugin.name, command))
    found.commands_loaded = True
    return found.commands


def _declared(found: PluginSet, plugin: Any, hook_name: str) -> list[Any]:
    """What a declaration hook returns; a hook that raises is a problem of its plugin."""
    try:
        return list(hook(plugin, hook_name) or ())
    except Exception as exc:
        record = found.record(plugin.name)
        label = record.label if record else plugin.name
        found.problems.append(
            Problem(
                f"plugin:{plugin.name}",
                f"{label}: {hook_name}() failed: {type(exc).__name__}: {exc}. Fix the plugin or "
                f"switch it off with {DISABLE_VARIABLE}={plugin.name}",
                owner=plugin.name,
            )
        )
        return []
