"""First-party plugin ``gateway``: the built-in SSH gateway.

``ocore gateway`` runs an asyncssh server on ``SSH_LISTEN_ADDR`` when ``SSH_GATEWAY_ENABLED``:
users log in with a public key they registered, the SSH user name naming a managed server
(``ssh -p 2222 web1@ocore-host``); roles and grants decide who reaches what, and each session
is proxied to the server with its vault credential and pinned host key, and audited.

Siblings use ``gateway()``: the app's ``GatewayService`` (keys, grants, audit, heartbeats,
host key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of
from ocore_gateway.settings import CROSS_RULES, GatewaySettings

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Flask

    from ocore_gateway.service import GatewayService

_EXPORTS = {
    "GatewayError": "ocore_gateway.errors",
    "GatewayService": "ocore_gateway.service",
    "InvalidKey": "ocore_gateway.errors",
    "parse_public_key": "ocore_gateway.pubkeys",
}
__all__ = ["gateway", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "gateway",
    "SSH gateway: public-key logins proxied to managed servers, audited.",
    requires=("database", "auth", "vault", "ssh"),
    settings=GatewaySettings,
    cross_rules=CROSS_RULES,
    hooks={
        "init_app": "ocore_gateway.service:init_app",
        "migrations": _migrations,
        "health_contributors": "ocore_gateway.health:contributors",
        "cli_commands": "ocore_gateway.cli:commands",
        "api_blueprints": "ocore_gateway.api:blueprints",
        "dev_services": "ocore_gateway.dev:dev_services",
    },
)


def gateway(app: Flask | None = None) -> GatewayService:
    """The app's gateway service (default: ``current_app``'s)."""
    return service_of(plugin, app)
