"""First-party plugin ``agents``: agents on managed servers push their status over HTTPS
(``POST /api/agents/push``) with their own tokens; statuses feed ``ocore agents list`` and
the ``agents`` health section.

Siblings use ``agents()``: the app's ``AgentService`` (register, rotate_token, revoke, get,
list, push, summary). An agent belongs to a server of the ssh plugin; the reference agent is
the ``ocore-agent`` console script (package ``ocore_agent``, which imports nothing of this).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocore_agents.settings import CROSS_RULES, AgentsSettings
from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of

if TYPE_CHECKING:
    from flask import Flask

    from ocore_agents.service import AgentService

_EXPORTS = {
    "AgentService": "ocore_agents.service",
    "AgentError": "ocore_agents.errors",
    "AgentNotFound": "ocore_agents.errors",
    "Agent": "ocore_agents.store",
    "STATUSES": "ocore_agents.status",
}
__all__ = ["agents", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "agents",
    "Agents on managed servers: token-authenticated status pushes, statuses, health.",
    requires=("database", "auth", "ssh"),
    settings=AgentsSettings,
    cross_rules=CROSS_RULES,
    hooks={
        "init_app": "ocore_agents.service:init_app",
        "migrations": _migrations,
        "health_contributors": "ocore_agents.health:contributors",
        "cli_commands": "ocore_agents.cli:commands",
        "api_blueprints": "ocore_agents.api:blueprints",
    },
)


def agents(app: Flask | None = None) -> AgentService:
    """The app's agents service (default: ``current_app``'s)."""
    return service_of(plugin, app)
