"""First-party plugin ``auth``: users, sessions (JWT access tokens, rotating refresh tokens),
passkeys, and the guard every plugin's API uses.

Siblings use ``auth()`` (the app's ``AuthService``) and ``require(role=...)`` with
``current_user()`` in their views::

    from ocore_auth import current_user, require

    @blp.route("/things", methods=["POST"])
    @require(role="operator")          # directly under the route: 401/403 before any parsing
    @blp.arguments(ThingSchema)
    def create(args): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocore_auth.settings import CROSS_RULES, AuthSettings
from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of

if TYPE_CHECKING:
    from flask import Flask

    from ocore_auth.service import AuthService

_EXPORTS = {
    "require": "ocore_auth.guard",
    "current_user": "ocore_auth.guard",
    "Principal": "ocore_auth.service",
    "AuthService": "ocore_auth.service",
    "AuthError": "ocore_auth.errors",
    "ROLES": "ocore_auth.schema",
}
__all__ = ["auth", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "auth",
    "Users and roles, JWT sessions with rotating refresh tokens, passkeys, API guards.",
    requires=("database",),
    settings=AuthSettings,
    cross_rules=CROSS_RULES,
    hooks={
        "init_app": "ocore_auth.service:init_app",
        "migrations": _migrations,
        "health_contributors": "ocore_auth.health:contributors",
        "cli_commands": "ocore_auth.cli:commands",
        "api_blueprints": "ocore_auth.api:blueprints",
        "dev_services": "ocore_auth.dev:dev_admin",
    },
)


def auth(app: Flask | None = None) -> AuthService:
    """The app's auth service (default: ``current_app``'s)."""
    return service_of(plugin, app)
