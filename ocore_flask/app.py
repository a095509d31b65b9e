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
from ocore_flask.discovery import load_contributors, load_plugins
from ocore_flask.errors import PluginError, StartupError
from ocore_flask.manager import PluginManager
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
    only: Sequence[str] | None = None,
    repair: bool = False,
) -> Flask:
    """Build the app; raise ``ConfigError`` with every problem, or ``PluginError``.

    ``environ`` defaults to the process environment (the only source in production);
    ``plugins`` given explicitly skips entry-point discovery (tests, embedding). ``only`` keeps
    just the named plugins and what they require (a command that needs the mail plugin starts
    while PostgreSQL is down); ``repair`` builds the app for a repair command (see
    ``ocore_flask.state.repair_mode``).
    """
    environ = os.environ if environ is None else environ
    found = load_plugins(environ, plugins, only=only)
    load_contributors(found)
    blueprints = found.collect("api_blueprints")
    config = load(environ, found.settings, found.cross_rules, found.problems)
    app = Flask("ocore_flask", instance_path=instance_path)
    app.config.update(API_SETTINGS)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    state = OcoreState(config=config, plugins=found, started_at=datetime.now(UTC), repair=repair)
    app.extensions[EXTENSION] = state
    logs.init_app(app, config)
    for warning in config.report.warnings:
        app.logger.warning("configuration: %s %s", warning.variable, warning.message)
    state.api = OcoreApi(app)
    _init_plugins(app, found, config)
    for _, blueprint in blueprints:
        state.api.register_blueprint(blueprint)
    health.init_app(app)
    security.init_app(app, config)  # outermost: every response, fast path included
    return app


def _init_plugins(app: Flask, found: PluginManager, config: Any) -> None:
    services = app.extensions[EXTENSION]._services
    initialised = []
    for plugin in found.active:
        section = config.section(plugin.settings) if plugin.settings else None
        try:
            services[plugin.name] = found.call(plugin, "init_app", app, section)
        except StartupError:
            _close(app, found, initialised)
            raise
        except Exception as exc:
            _close(app, found, initialised)
            reason = scrub_text(f"{type(exc).__name__}: {exc}", config.secret_values())
            raise PluginError(
                f"ocore: plugin {found.label(plugin)} failed to initialise: {reason}. "
                f"Fix its configuration, or switch it off with OCORE_DISABLED_PLUGINS={plugin.name}"
            ) from exc
        initialised.append(plugin)


def _close(app: Flask, found: PluginManager, plugins: Sequence[Any]) -> None:
    services = app.extensions[EXTENSION]._services
    for plugin in reversed(plugins):
        try:
            found.call(plugin, "close", app)
        except Exception:
            app.logger.exception("plugin %s failed to close", plugin.name)
        services.pop(plugin.name, None)


def close_app(app: Flask) -> None:
    """Release every plugin's resources (pools, threads) in reverse init order."""
    state: OcoreState = app.extensions[EXTENSION]
    if state.health is not None:
        state.health.close()
    _close(app, state.plugins, [p for p in state.plugins.active if p.name in state._services])
