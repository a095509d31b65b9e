"""The app factory: plugins → config → Flask app → plugins' init_app → health and API."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from ocore_flask import health, logs, security
from ocore_flask.api import OcoreApi
from ocore_flask.config import load
from ocore_flask.discovery import PluginSet, load_plugins
from ocore_flask.errors import PluginError, StartupError
from ocore_flask.plugin import hook
from ocore_flask.redact import scrub_text
from ocore_flask.state import EXTENSION, OcoreState

API_SETTINGS = {
    "API_TITLE": "ocore",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "components": {
            "securitySchemes": {
                "healthToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "HEALTH_CHECK_TOKEN (or HEALTH_CHECK_TOKEN_PREVIOUS).",
                }
            }
        }
    },
}


def create_app(
    environ: Mapping[str, str] | None = None,
    plugins: Sequence[Any] | None = None,
    *,
    instance_path: str | None = None,
) -> Flask:
    """Build the app; raise ``ConfigError`` with every problem, or ``PluginError``.

    ``environ`` defaults to the process environment (the only source in production);
    ``plugins`` given explicitly skips entry-point discovery (tests, embedding).
    """
    environ = os.environ if environ is None else environ
    found = load_plugins(environ, plugins)
    config = load(environ, found.settings, found.rules, found.problems)
    app = Flask("ocore_flask", instance_path=instance_path)
    app.config.update(API_SETTINGS)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    state = OcoreState(config=config, plugins=found, started_at=datetime.now(UTC))
    app.extensions[EXTENSION] = state
    logs.init_app(app, config)
    for warning in config.report.warnings:
        app.logger.warning("configuration: %s %s", warning.variable, warning.message)
    state.api = OcoreApi(app)
    _init_plugins(app, found, config)
    health.init_app(app)
    security.init_app(app, config)  # outermost: every response, fast path included
    return app


def _init_plugins(app: Flask, found: PluginSet, config: Any) -> None:
    initialised = []
    for plugin in found.active:
        record = found.record(plugin.name)
        try:
            hook(plugin, "init_app", app, config)
        except StartupError:
            _close(app, initialised)
            raise
        except Exception as exc:
            _close(app, initialised)
            label = record.label if record else plugin.name
            reason = scrub_text(f"{type(exc).__name__}: {exc}", config.secret_values())
            raise PluginError(
                f"ocore: plugin {label} failed to initialise: {reason}. "
                f"Fix its configuration, or switch it off with OCORE_DISABLED_PLUGINS={plugin.name}"
            ) from exc
        initialised.append(plugin)


def _close(app: Flask, plugins: Sequence[Any]) -> None:
    for plugin in reversed(plugins):
        try:
            hook(plugin, "close", app)
        except Exception:
            app.logger.exception("plugin %s failed to close", plugin.name)


def close_app(app: Flask) -> None:
    """Release every plugin's resources (pools, threads) in reverse init order."""
    state: OcoreState = app.extensions[EXTENSION]
    if state.health is not None:
        state.health.close()
    _close(app, state.plugins.active)
