"""The SSH plugin: pooled connections to managed servers with vault credentials."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from ocore_flask.config import Config
from ocore_flask.health import HealthContributor
from ocore_flask.plugin import Plugin
from ocore_flask.state import get_state
from ocore_ssh.settings import SETTINGS

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SSHPlugin(Plugin):
    """Servers table, connection pool, host-key pinning, ``ocore ssh``."""

    name = "ssh"
    description = "SSH connection pool to managed servers with pinned host keys."
    requires = ("database", "vault")
    settings = SETTINGS
    migrations = MIGRATIONS

    def init_app(self, app: Flask, config: Config) -> None:
        """Build the app's pool from the SSH_* settings; no connection is opened yet."""
        # Imported here: `ocore config check` loads this module and must not pay for paramiko.
        from ocore_ssh.service import STATE_KEY, SSHService, pool_options

        state = get_state(app)
        engine = state.plugin_state["database"].engine
        vault = state.plugin_state["vault"].store
        state.plugin_state[STATE_KEY] = SSHService(engine, vault, **pool_options(config))

    def close(self, app: Flask) -> None:
        """Close every pooled connection and stop the pool's reaper thread."""
        service = get_state(app).plugin_state.pop(self.name, None)
        if service is not None:
            service.close()

    def health_contributors(self) -> list[HealthContributor]:
        """The ``ssh_pool`` section (not critical, no I/O)."""
        from ocore_ssh.health import CONTRIBUTOR

        return [CONTRIBUTOR]

    def cli_commands(self) -> list[click.Command]:
        """``ocore ssh add|list|check|run|forget-host-key|remove``."""
        from ocore_ssh.cli import ssh_group

        return [ssh_group]
