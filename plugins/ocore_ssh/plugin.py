"""The SSH plugin: pooled connections to managed servers with vault credentials."""

from __future__ import annotations

from ocore_flask.plugin import Plugin


class SSHPlugin(Plugin):
    """Servers table, connection pool, host-key pinning, ``ocore ssh``."""

    name = "ssh"
    description = "SSH connection pool to managed servers with pinned host keys."
    requires = ("database", "vault")
