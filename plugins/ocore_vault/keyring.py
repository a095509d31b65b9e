"""The key ring from configuration: built once per app in ``init_app``.

Active key: ``SSH_ENCRYPTION_KEY``; in development without it, a key derived from
``JWT_SECRET`` under the vault's own HKDF labels. Previous keys (decrypt only):
``SSH_ENCRYPTION_KEY_PREVIOUS`` in the order given. In development with ``SSH_ENCRYPTION_KEY``
set, the ``JWT_SECRET``-derived key is added last as a previous key too, so credentials stored
before the variable was set stay readable and ``ocore vault rotate`` moves them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ocore_vault.crypto import MIN_SECRET_LENGTH, SOURCE_JWT_SECRET, KeyRing, VaultKey

if TYPE_CHECKING:
    from ocore_vault.settings import VaultSettings

__all__ = ["UNKNOWN", "ConfiguredKeyRing", "active_source", "build_keyring", "key_role"]

log = logging.getLogger("ocore_vault")

UNKNOWN = "UNKNOWN"
JWT_PREVIOUS_ROLE = "previous (development key from JWT_SECRET)"


class ConfiguredKeyRing(KeyRing):
    """A KeyRing that remembers each previous key's position in SSH_ENCRYPTION_KEY_PREVIOUS."""

    def __init__(
        self, active: VaultKey, previous: Sequence[VaultKey], roles: Mapping[bytes, str]
    ) -> None:
        """Keys as KeyRing takes them, plus the role label of each previous key id."""
        super().__init__(active, previous)
        self.roles = dict(roles)


def build_keyring(
    settings: VaultSettings, *, jwt_secret: str | None, development: bool
) -> ConfiguredKeyRing:
    """Derive every configured key once; the config core has already validated the values."""
    secret = settings.encryption_key.reveal() if settings.encryption_key else None
    previous_secrets = settings.encryption_key_previous
    if secret:
        active = VaultKey.from_secret(secret)
    elif development and jwt_secret:
        active = VaultKey.from_jwt_secret(jwt_secret)
    else:  # the settings make it required in strict modes; kept as a guard
        raise ValueError("SSH_ENCRYPTION_KEY is not set")

    previous: list[VaultKey] = []
    roles: dict[bytes, str] = {}
    olds = previous_secrets.reveal() if previous_secrets else ()
    for number, old in enumerate(olds, start=1):
        key = VaultKey.from_secret(old)
        if key.key_id == active.key_id:
            log.warning("vault: SSH_ENCRYPTION_KEY_PREVIOUS #%d is the active key", number)
        elif key.key_id in roles:
            log.warning("vault: SSH_ENCRYPTION_KEY_PREVIOUS #%d repeats an earlier key", number)
        else:
            previous.append(key)
            roles[key.key_id] = f"previous #{number}"
    if secret and development and jwt_secret and len(jwt_secret) >= MIN_SECRET_LENGTH:
        legacy = VaultKey.from_jwt_secret(jwt_secret)
        if legacy.key_id not in roles:
            previous.append(legacy)
            roles[legacy.key_id] = JWT_PREVIOUS_ROLE
    return ConfiguredKeyRing(active, previous, roles)


def key_role(ring: KeyRing, key_id: bytes) -> str:
    """Which configured key a key id belongs to: "active", "previous #N" or "UNKNOWN"."""
    if key_id == ring.active.key_id:
        return "active"
    if ring.key_for(key_id) is None:
        return UNKNOWN
    if isinstance(ring, ConfiguredKeyRing) and key_id in ring.roles:
        return ring.roles[key_id]
    return ring.describe(key_id) or UNKNOWN


def active_source(ring: KeyRing) -> str:
    """Where the active key comes from, for status output."""
    if ring.active.source == SOURCE_JWT_SECRET:
        return "derived from JWT_SECRET (development)"
    return "SSH_ENCRYPTION_KEY"
