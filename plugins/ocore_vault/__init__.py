"""First-party plugin ``vault``: SSH credentials encrypted at rest.

Siblings use ``credentials()``: the app's ``CredentialStore`` (put, get, verify, rotate), whose
``keyring`` holds the derived keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of
from ocore_vault.settings import VaultSettings

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Flask

    from ocore_vault.store import CredentialStore

_EXPORTS = {
    "VaultError": "ocore_vault.crypto",
    "PassphraseRequired": "ocore_vault.privatekeys",
    "PrivateKeyError": "ocore_vault.privatekeys",
    "CredentialNotFound": "ocore_vault.store",
    "CredentialStore": "ocore_vault.store",
    "CredentialKind": "ocore_vault.store",
    "check_name": "ocore_vault.store",
    "username_problem": "ocore_vault.store",
}
__all__ = ["credentials", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "vault",
    "SSH credential vault: AES-256-GCM at rest, HKDF keys, key rotation.",
    requires=("database",),
    settings=VaultSettings,
    hooks={
        "init_app": "ocore_vault.service:init_app",
        "migrations": _migrations,
        "health_contributors": "ocore_vault.health:contributors",
        "cli_commands": "ocore_vault.cli:commands",
    },
)


def credentials(app: Flask | None = None) -> CredentialStore:
    """The app's credential store (default: ``current_app``'s)."""
    return service_of(plugin, app)
