"""Per-app state in ``app.extensions["ocore"]``; no app state lives in module globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from ocore_flask.config.loader import Config
    from ocore_flask.discovery import PluginSet

EXTENSION = "ocore"


@dataclass
class OcoreState:
    """The resolved config, the plugins in init order, and each plugin's own state by name."""

    config: Config
    plugins: PluginSet
    started_at: datetime
    plugin_state: dict[str, Any] = field(default_factory=dict)
    health: Any = None
    api: Any = None

    def __repr__(self) -> str:
        return f"<OcoreState {self.config.mode.value}: {len(self.plugins.active)} plugins>"


def get_state(app: Flask | None = None) -> OcoreState:
    """The ocore state of ``app`` (default: ``current_app``)."""
    return (app or current_app).extensions[EXTENSION]


def plugin_state(name: str, app: Flask | None = None) -> Any:
    """The state plugin ``name`` stored during ``init_app``."""
    return get_state(app).plugin_state[name]
