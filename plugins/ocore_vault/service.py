"""The vault's lifecycle: derive the key ring once per app, open the credential store on the
shared engine, and refuse to serve when stored rows use a key id no configured key has (a
repair command, ``ocore vault``, is warned instead so it can fix them)."""

from __future__ import annotations

import logging

from flask import Flask

import ocore_database
from ocore_flask.settings import HostSettings
from ocore_flask.state import get_state, repair_mode
from ocore_vault.keyring import build_keyring
from ocore_vault.settings import VaultSettings
from ocore_vault.startup import check_key_ids
from ocore_vault.store import CredentialStore

log = logging.getLogger("ocore_vault")


def init_app(app: Flask, settings: VaultSettings) -> CredentialStore:
    """The app's credential store: what ``ocore_vault.credentials()`` hands out."""
    config = get_state(app).config
    host = config.section(HostSettings)
    keyring = build_keyring(
        settings, jwt_secret=host.jwt_secret.reveal(), development=not config.mode.strict
    )
    store = CredentialStore(ocore_database.engine(app), keyring)
    log.debug(
        "vault: active key id %s, %d previous key(s)",
        keyring.active.key_id_hex,
        len(keyring.previous),
    )
    check_key_ids(store, refuse=not repair_mode(app))
    return store
