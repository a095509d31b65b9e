"""Find plugins, switch off the disabled ones, order them by ``requires`` and reject duplicates.

Problems become lines of the configuration report, so an operator sees plugin and setting
mistakes in one go. The host names no plugin: everything here is driven by the entry points.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from ocore_flask import settings as host_settings
from ocore_flask.commands import HOST_COMMANDS
from ocore_flask.config import kinds
from ocore_flask.config.report import Problem
from ocore_flask.config.sections import settings_of
from ocore_flask.manager import DISABLE_VARIABLE, HOST, PluginManager, PluginRecord
from ocore_flask.plugin import ENTRY_POINT_GROUP, Plugin


def load_plugins(
    environ: Mapping[str, str],
    explicit: Sequence[Any] | None = None,
    *,
    only: Sequence[str] | None = None,
) -> PluginManager:
    """Discover (or take ``explicit``), disable, validate, order and collect declarations;
    ``only`` keeps just the named plugins and those they require (a command's needs)."""
    disabled = _disabled_names(environ)
    found = PluginManager()
    if explicit is None:
        found.records = _from_entry_points(disabled)
    else:
        found.records = [
            PluginRecord(_name_of(p), p, enabled=_name_of(p) not in disabled) for p in explicit
        ]
    _check_records(found, disabled)
    loaded = [r for r in found.records if r.plugin is not None and not r.error]
    found.register_specs(r.plugin for r in loaded)
    present = {r.name for r in loaded if r.enabled}
    for record in found.records:
        if record.plugin is None or record.error or not record.enabled:
            continue
        for message in found.check(record.plugin, present):
            found.problems.append(
                Problem(f"plugin:{record.name}", f"{record.label} {message}", owner=record.name)
            )
            record.error = record.error or "invalid declaration"
    usable = {
        r.name: r for r in found.records if r.enabled and r.plugin is not None and not r.error
    }
    found.active = [usable[name].plugin for name in _order(usable, found)]
    if only is not None:
        needed = _closure(only, usable)
        found.active = [p for p in found.active if p.name in needed]
    _collect_declarations(found)
    return found


def _closure(names: Sequence[str], usable: Mapping[str, PluginRecord]) -> set[str]:
    """``names`` and everything they require, transitively."""
    needed: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in needed or name not in usable:
            continue
        needed.add(name)
        todo.extend(usable[name].plugin.requires)  # type: ignore[union-attr]
    return needed


def _name_of(plugin: Any) -> str:
    return plugin.name if isinstance(plugin, Plugin) else "?"


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
        record = PluginRecord(
            ep.name, None, getattr(ep, "dist", None), enabled=ep.name not in disabled
        )
        try:
            obj = ep.load()
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        else:
            if isinstance(obj, Plugin):
                record.plugin = obj
            else:
                what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
                record.error = f"it gives {what}, not an ocore_flask.Plugin declaration"
        records.append(record)
    return records


def _check_records(found: PluginManager, disabled: frozenset[str]) -> None:
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
        if not isinstance(record.plugin, Plugin | None):
            problems.append(
                Problem(
                    where,
                    f"{record.label} is a {type(record.plugin).__name__}, not an "
                    f"ocore_flask.Plugin declaration",
                    owner=record.name,
                )
            )
            record.error = "not a Plugin"
            continue
        declared = record.plugin.name if record.plugin else record.name
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


def _order(usable: Mapping[str, PluginRecord], found: PluginManager) -> list[str]:
    """Topological order by ``requires``, ties broken by name; unmet needs become problems."""
    needs: dict[str, set[str]] = {}
    for name, record in usable.items():
        wanted = set(record.plugin.requires)
        missing = sorted(wanted - set(usable))
        if missing:
            why = _absence(missing[0], found)
            fix = ""
            if why.startswith("disabled"):
                fix = f": disable {name} too, or enable {missing[0]} again"
            found.problems.append(
                Problem(
                    f"plugin:{name}",
                    f"{record.label} requires plugin {missing[0]!r}, which is {why}{fix}",
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


def _absence(name: str, found: PluginManager) -> str:
    record = found.record(name)
    if record is None:
        return "not installed"
    if not record.enabled:
        return f"disabled by {DISABLE_VARIABLE}"
    return "not loadable"


def _collect_declarations(found: PluginManager) -> None:
    owners: dict[str, str] = {}

    def claim(key: str, owner: str) -> bool:
        if key in owners:
            found.problems.append(
                Problem(
                    f"plugin:{owner}",
                    f"setting {key!r} is declared by both {owners[key]} and {owner}",
                    owner=owner,
                )
            )
            return False
        owners[key] = owner
        return True

    for setting in host_settings.SETTINGS:
        claim(setting.name, HOST)
        found.settings.append(dataclasses.replace(setting, owner=HOST))
    found.cross_rules.extend(host_settings.CROSS_RULES)
    for plugin in found.active:
        for setting in settings_of(plugin.settings) if plugin.settings else ():
            if claim(setting.name, plugin.name):
                found.settings.append(dataclasses.replace(setting, owner=plugin.name))
        found.cross_rules.extend(plugin.cross_rules)


def load_commands(found: PluginManager) -> list[tuple[str, Any]]:
    """The active plugins' CLI commands, collected only when a command line needs them (they
    import a plugin's runtime); a name taken twice, or by the host, becomes a problem."""
    return found.collect("cli_commands", reserved=HOST_COMMANDS)


def load_contributors(found: PluginManager) -> list[tuple[str, Any]]:
    """The active plugins' health contributors, collected when an app is built (they import a
    plugin's runtime); a section name taken twice becomes a problem."""
    return found.collect("health_contributors")
