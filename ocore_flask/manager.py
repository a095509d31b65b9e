"""The plugin manager: checks every plugin's hooks once, at load, and is their only caller.

Discovery (``ocore_flask.discovery``) builds one ``PluginManager`` per process or app: the
plugins found, the active ones in init order, their settings and cross rules, and every problem as
a line of the configuration report. Hooks are resolved from their import paths on first use
and cached; what they declare (health sections, commands, blueprints, tasks) is collected once,
with names taken twice reported against both owners.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ocore_flask.config.declarations import CrossRule, Setting
from ocore_flask.config.report import Problem
from ocore_flask.errors import PluginError
from ocore_flask.hookspecs import HOST_HOOKS, HookSpec
from ocore_flask.plugin import Plugin

HOST = "host"
DISABLE_VARIABLE = "OCORE_DISABLED_PLUGINS"
#: what a hook a plugin does not implement gives
_DEFAULTS: dict[str, Callable[..., Any]] = {
    "init_app": lambda app, settings: None,
    "close": lambda app: None,
    "dev_services": lambda environ, instance, plugins: contextlib.nullcontext({}),
}


@dataclass
class PluginRecord:
    """What is known about one installed plugin, loaded or not."""

    name: str
    plugin: Plugin | None
    #: the installed distribution (``importlib.metadata``); its metadata is read only when a
    #: message or listing needs its name and version, which keeps ``config check`` fast
    dist: Any = None
    enabled: bool = True
    error: str | None = None

    @property
    def distribution(self) -> str | None:
        """The distribution's name, e.g. ``ocore-flask``."""
        return self.dist.name if self.dist is not None else None

    @property
    def version(self) -> str | None:
        """The distribution's version."""
        return self.dist.version if self.dist is not None else None

    @property
    def label(self) -> str:
        """``name (distribution version)`` for messages."""
        if self.distribution:
            return f"{self.name} ({self.distribution} {self.version})"
        return self.name

    @property
    def core(self) -> bool:
        """Whether the plugin declares itself core (cannot be disabled)."""
        return bool(self.plugin is not None and self.plugin.core)


@dataclass
class Collected:
    """What one declaration hook gave, across the active plugins: (owner, item) pairs."""

    items: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, owner: str) -> list[Any]:
        """The items ``owner`` declared."""
        return [item for name, item in self.items if name == owner]


@dataclass
class PluginManager:
    """The plugins of one process or app, their declarations, and the only way to call hooks."""

    records: list[PluginRecord] = field(default_factory=list)
    active: list[Plugin] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    cross_rules: list[CrossRule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    specs: dict[str, HookSpec] = field(default_factory=dict)
    _resolved: dict[tuple[int, str], Callable[..., Any]] = field(default_factory=dict)
    _collected: dict[str, Collected] = field(default_factory=dict)

    @classmethod
    def of(cls, plugins: Iterable[Plugin]) -> PluginManager:
        """A manager over given declarations taken as active in the given order, for tools
        that call one hook of known plugins (migrations in tests and benchmarks)."""
        plugins = list(plugins)
        manager = cls(active=plugins)
        manager.register_specs(plugins)
        return manager

    def record(self, name: str) -> PluginRecord | None:
        """The record of plugin ``name``."""
        return next((r for r in self.records if r.name == name), None)

    def label(self, plugin: Plugin) -> str:
        """How messages name ``plugin``: with its distribution and version when known."""
        record = self.record(plugin.name)
        return record.label if record else plugin.name

    # -- validation, once at load ------------------------------------------------------------

    def register_specs(self, plugins: Iterable[Plugin]) -> None:
        """The host's hook specs plus those the given plugins own."""
        self.specs = {spec.name: spec for spec in HOST_HOOKS}
        for plugin in plugins:
            for spec in plugin.hookspecs:
                if spec.name in self.specs:
                    self._problem(
                        plugin,
                        f"specifies hook {spec.name!r}, already specified by "
                        f"{self.specs[spec.name].owner}",
                    )
                    continue
                self.specs[spec.name] = spec

    def check(self, plugin: Plugin, present: Iterable[str] = ()) -> list[str]:
        """What is wrong with a declaration's hooks and requirements (empty when nothing).
        ``present`` names the plugins loaded: a hook that no spec knows is only reported when
        every plugin it requires is present (a missing one, which may own the spec, is
        reported as missing instead)."""
        found = []
        if any(not isinstance(r, str) for r in plugin.requires):
            found.append("requires must be plugin names (strings)")
        complete = set(plugin.requires) <= set(present)
        for name, ref in plugin.hooks.items():
            spec = self.specs.get(name)
            if spec is None and not complete:
                continue
            if spec is None:
                found.append(f"declares unknown hook {name!r}{self._nearest(name)}")
            elif isinstance(ref, str):
                if ref.count(":") != 1 or not all(ref.split(":")):
                    found.append(f"hook {name!r} must be a callable or 'module:attribute'")
            elif not callable(ref):
                found.append(f"hook {name!r} must be a callable or 'module:attribute'")
            else:
                problem = _signature_problem(spec, ref)
                if problem:
                    found.append(problem)
        for attr in _subclass_callables(plugin):
            near = difflib.get_close_matches(attr, list(self.specs), n=1, cutoff=0.8)
            if near:
                found.append(
                    f"defines method {attr!r}: hooks are declared in Plugin(hooks="
                    f"{{{near[0]!r}: ...}}), not as methods"
                )
        return found

    def _nearest(self, name: str) -> str:
        near = difflib.get_close_matches(name, list(self.specs), n=1, cutoff=0.6)
        known = ", ".join(sorted(self.specs))
        return f"; did you mean {near[0]!r}?" if near else f" (known hooks: {known})"

    # -- dispatch --------------------------------------------------------------------------

    def implements(self, plugin: Plugin, name: str) -> bool:
        """Whether ``plugin`` declares hook ``name``."""
        return name in plugin.hooks

    def resolve(self, plugin: Plugin, name: str) -> Callable[..., Any]:
        """The callable behind ``plugin``'s hook ``name`` (the spec's default when absent);
        an import path that fails or a wrong signature raises ``PluginError``."""
        key = (id(plugin), name)
        if key in self._resolved:
            return self._resolved[key]
        ref = plugin.hooks.get(name)
        if ref is None:
            func = _DEFAULTS.get(name, lambda *args: ())
        elif isinstance(ref, str):
            module, _, attribute = ref.partition(":")
            try:
                func = getattr(importlib.import_module(module), attribute)
            except Exception as exc:
                raise PluginError(
                    f"ocore: plugin {self.label(plugin)}: hook {name!r} ({ref}) failed to load: "
                    f"{type(exc).__name__}: {exc}. Fix or reinstall the plugin, or switch it "
                    f"off with {DISABLE_VARIABLE}={plugin.name}"
                ) from exc
            problem = _signature_problem(self.specs[name], func)
            if problem:
                raise PluginError(f"ocore: plugin {self.label(plugin)}: {problem}")
        else:
            func = ref
        self._resolved[key] = func
        return func

    def call(self, plugin: Plugin, name: str, *args: Any) -> Any:
        """Call ``plugin``'s hook ``name`` with the spec's arguments."""
        return self.resolve(plugin, name)(*args)

    def collect(self, name: str, *, reserved: Iterable[str] = ()) -> list[tuple[str, Any]]:
        """Every active plugin's declarations from hook ``name``, once, as (owner, item) pairs.
        Items with a ``name`` taken twice (or ``reserved`` by the host) are dropped and
        reported naming both owners; a hook that fails is a problem of its plugin."""
        if name in self._collected:
            return self._collected[name].items
        collected = self._collected[name] = Collected()
        owners = dict.fromkeys(reserved, HOST)
        what = _ITEM_NAMES.get(name, name)
        for plugin in self.active:
            if not self.implements(plugin, name):
                continue
            try:
                items = list(self.call(plugin, name) or ())
            except PluginError as exc:
                self._problem(plugin, str(exc).removeprefix("ocore: plugin "))
                continue
            except Exception as exc:
                self._problem(
                    plugin,
                    f"{self.label(plugin)}: {name}() failed: {type(exc).__name__}: {exc}. Fix "
                    f"the plugin or switch it off with {DISABLE_VARIABLE}={plugin.name}",
                )
                continue
            for item in items:
                key = getattr(item, "name", None)
                if key is not None and key in owners:
                    taken = f"{what} {key!r} is declared by both {owners[key]} and {plugin.name}"
                    self._problem(plugin, taken)
                    continue
                if key is not None:
                    owners[key] = plugin.name
                collected.items.append((plugin.name, item))
        return collected.items

    def _problem(self, plugin: Plugin, message: str) -> None:
        self.problems.append(Problem(f"plugin:{plugin.name}", message, owner=plugin.name))


_ITEM_NAMES = {
    "health_contributors": "health section",
    "cli_commands": "command",
    "api_blueprints": "blueprint",
    "tasks": "task",
}


def _signature_problem(spec: HookSpec, func: Callable[..., Any]) -> str | None:
    """None when ``func`` can be called with the spec's arguments, else what is wrong."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or C callable: nothing to check
    try:
        signature.bind(*spec.params)
    except TypeError:
        return (
            f"hook {spec.name!r} must accept ({', '.join(spec.params)}), "
            f"not {func.__qualname__}{signature}"
        )
    return None


def _subclass_callables(plugin: Plugin) -> list[str]:
    """Public functions defined on a subclass of ``Plugin`` (hooks written the old way)."""
    names = []
    for cls in type(plugin).__mro__:
        if cls in (Plugin, object):
            break
        names += [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]
    return names
