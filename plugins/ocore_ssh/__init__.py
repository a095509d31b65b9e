"""First-party plugin ``ssh``: connections to managed servers.

Siblings use ``ssh()``: the app's ``SSHService`` (run a command on a server by name, stream
bytes through one, add and check servers), pooled, with vault credentials and pinned host keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of
from ocore_ssh.settings import SSHSettings

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Flask

    from ocore_ssh.service import SSHService

_EXPORTS = {
    "CommandTimeout": "ocore_ssh.pool",
    "SSHError": "ocore_ssh.hostkeys",
    "SSHService": "ocore_ssh.service",
    "StreamResult": "ocore_ssh.pool",
}
__all__ = ["plugin", "ssh", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "ssh",
    "SSH connection pool to managed servers with pinned host keys.",
    requires=("database", "vault"),
    settings=SSHSettings,
    hooks={
        "init_app": "ocore_ssh.service:init_app",
        "close": "ocore_ssh.service:close",
        "migrations": _migrations,
        "health_contributors": "ocore_ssh.health:contributors",
        "cli_commands": "ocore_ssh.cli:commands",
        "tasks": "ocore_ssh.tasks:tasks",
    },
)


def ssh(app: Flask | None = None) -> SSHService:
    """The app's SSH service (default: ``current_app``'s)."""
    return service_of(plugin, app)
