"""Health: contributors declared by plugins, run by the framework, served at /api/health."""

from __future__ import annotations

from flask import Flask

from ocore_flask.health.contributor import (
    CheckResult,
    HealthContributor,
    degraded,
    fail,
    ok,
)
from ocore_flask.health.freshness import freshness
from ocore_flask.health.service import HealthService
from ocore_flask.state import get_state

__all__ = [
    "CheckResult",
    "HealthContributor",
    "HealthService",
    "degraded",
    "fail",
    "freshness",
    "init_app",
    "ok",
]


def init_app(app: Flask) -> None:
    """Build the app's health service from the plugins' contributors and mount the endpoint."""
    from ocore_flask.health.views import LivenessFastPath, blp

    state = get_state(app)
    contributors = [c for _, c in state.plugins.collect("health_contributors")]
    state.health = HealthService(state.config, contributors, context=app.app_context)
    state.api.register_blueprint(blp)
    app.wsgi_app = LivenessFastPath(app.wsgi_app)  # type: ignore[method-assign]
