"""Per-app state in ``app.extensions["ocore"]``; no app state lives in module globals.

Each plugin's service (what its ``init_app`` returned) is kept here under the plugin's name,
privately: other code reaches it only through the plugin's own typed accessor, which calls
``service_of(plugin)``, so every use of a sibling is an import of that sibling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from ocore_flask.config.loader import Config
    from ocore_flask.manager import PluginManager
    from ocore_flask.plugin import Plugin

EXTENSION = "ocore"


@dataclass
class OcoreState:
    """The resolved config, the plugin manager, and each active plugin's service."""

    config: Config
    plugins: PluginManager
    started_at: datetime
    #: built for a repair command (e.g. ``ocore vault``): plugins warn where they would refuse
    repair: bool = False
    health: Any = None
    api: Any = None
    _services: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"<OcoreState {self.config.mode.value}: {len(self.plugins.active)} plugins>"


def get_state(app: Flask | None = None) -> OcoreState:
    """The ocore state of ``app`` (default: ``current_app``)."""
    return (app or current_app).extensions[EXTENSION]


def service_of(plugin: Plugin, app: Flask | None = None) -> Any:
    """The service ``plugin``'s ``init_app`` returned for ``app`` (default: ``current_app``):
    what a plugin's accessor hands out. Raises ``RuntimeError`` when the plugin is not active."""
    services = get_state(app)._services
    if plugin.name not in services:
        raise RuntimeError(
            f"plugin {plugin.name!r} is not active in this app: install and enable it, and list "
            f"it in the requires of the plugin that uses it"
        )
    return services[plugin.name]


def repair_mode(app: Flask | None = None) -> bool:
    """Whether ``app`` was built for a repair command: startup checks that would refuse to
    serve (e.g. the vault's unknown key ids) warn instead, so the command can fix the cause."""
    return get_state(app).repair
