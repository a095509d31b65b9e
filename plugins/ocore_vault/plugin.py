"""The vault plugin: SSH credentials encrypted at rest with rotating keys."""

from __future__ import annotations

from ocore_flask.plugin import Plugin
from ocore_vault.settings import SETTINGS


class VaultPlugin(Plugin):
    """Key ring from SSH_ENCRYPTION_KEY(_PREVIOUS), the credentials table, ``ocore vault``."""

    name = "vault"
    description = "SSH credential vault: AES-256-GCM at rest, HKDF keys, key rotation."
    requires = ("database",)
    settings = SETTINGS
