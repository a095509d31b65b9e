"""The vault plugin: SSH credentials encrypted at rest with rotating keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask

from ocore_flask.config import Config
from ocore_flask.health import HealthContributor
from ocore_flask.plugin import Plugin
from ocore_flask.state import get_state
from ocore_vault.settings import SETTINGS

if TYPE_CHECKING:
    from ocore_vault.crypto import KeyRing
    from ocore_vault.store import CredentialStore

log = logging.getLogger("ocore_vault")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Set in click's context by the ``vault`` command group: its commands are the repair tools
#: for rows on unknown keys, so for them the startup check warns instead of refusing.
REPAIR_META = "ocore_vault.repair"


@dataclass(frozen=True)
class VaultState:
    """Per-app vault state: the key ring (derived once) and the store over the shared engine."""

    keyring: KeyRing
    store: CredentialStore


def _repair_mode() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(REPAIR_META))


class VaultPlugin(Plugin):
    """Key ring from SSH_ENCRYPTION_KEY(_PREVIOUS), the credentials table, ``ocore vault``."""

    name = "vault"
    description = "SSH credential vault: AES-256-GCM at rest, HKDF keys, key rotation."
    requires = ("database",)
    settings = SETTINGS
    migrations = MIGRATIONS

    def init_app(self, app: Flask, config: Config) -> None:
        # Imported here so `ocore config check` does not load cryptography and SQLAlchemy.
        from ocore_vault.keyring import build_keyring
        from ocore_vault.startup import check_key_ids
        from ocore_vault.store import CredentialStore

        state = get_state(app)
        keyring = build_keyring(config)
        store = CredentialStore(state.plugin_state["database"].engine, keyring)
        log.debug(
            "vault: active key id %s, %d previous key(s)",
            keyring.active.key_id_hex,
            len(keyring.previous),
        )
        check_key_ids(store, refuse=not _repair_mode())
        state.plugin_state[self.name] = VaultState(keyring, store)

    def close(self, app: Flask) -> None:
        get_state(app).plugin_state.pop(self.name, None)

    def health_contributors(self) -> list[HealthContributor]:
        from ocore_vault.health import CONTRIBUTOR

        return [CONTRIBUTOR]

    def cli_commands(self) -> list[click.Command]:
        from ocore_vault.cli import vault_group

        return [vault_group]
