"""The gateway's Ed25519 host key: generated once, kept encrypted in the vault.

The private key is a vault credential (``ocore-gateway-host-key``, kind ``private_key``), so it
is encrypted like every SSH credential and re-encrypted by ``ocore vault rotate``. The
``gateway_host_key`` row records its public half (``ocore gateway host-key`` prints it without
decrypting anything) and refers to the credential by name: the vault refuses to delete a
credential in use, so the key users pinned cannot vanish by accident.

Two processes generating at once agree: the vault's insert-if-absent lets one key win, and the
loser adopts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncssh
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_flask.invocation import invoked
from ocore_gateway.errors import HostKeyError
from ocore_gateway.schema import host_key
from ocore_gateway.store import translate
from ocore_vault import CredentialNotFound, CredentialStore, VaultError

log = logging.getLogger("ocore_gateway")

CREDENTIAL = "ocore-gateway-host-key"
ALGORITHM = "ssh-ed25519"


@dataclass(frozen=True)
class HostKeyInfo:
    """The public half: the line users pin and its SHA256 fingerprint."""

    public_key: str
    fingerprint: str
    credential: str
    created_at: datetime

    def known_hosts_line(self, host: str, port: int) -> str:
        """A ``known_hosts`` line for ``host``:``port`` (``[host]:port`` unless port 22)."""
        name = host if port == 22 else f"[{host}]:{port}"
        return f"{name} {self.public_key}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``gateway host-key --json``)."""
        return {
            "algorithm": self.public_key.split()[0],
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "credential": self.credential,
            "created_at": self.created_at.isoformat(),
        }


def _public(key: asyncssh.SSHKey) -> tuple[str, str]:
    line = key.export_public_key("openssh").decode("ascii").split()
    return f"{line[0]} {line[1]}", key.get_fingerprint("sha256")


def _import(text: str) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_private_key(text)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise HostKeyError(
            f"the vault credential {CREDENTIAL!r} is not a usable host key ({exc}); delete the "
            f"gateway_host_key row and the credential to generate a new one"
        ) from None


class HostKeys:
    """Create, read and load the gateway's host key through the vault."""

    def __init__(self, engine: Engine, vault: CredentialStore) -> None:
        """Use the shared engine and the app's credential store."""
        self.engine = engine
        self.vault = vault

    def __repr__(self) -> str:
        return f"HostKeys({CREDENTIAL})"

    def info(self) -> HostKeyInfo | None:
        """The recorded public half, or None before the first ``ensure``."""
        with translate(), self.engine.connect() as conn:
            row = conn.execute(select(host_key).where(host_key.c.id == 1)).first()
        if row is None:
            return None
        return HostKeyInfo(row.public_key, row.fingerprint, row.credential, row.created_at)

    def ensure(self) -> HostKeyInfo:
        """The host key's public half, generating and storing the key on first use."""
        found = self.info()
        if found is not None:
            return found
        key = asyncssh.generate_private_key(ALGORITHM)
        text = key.export_private_key("openssh").decode("ascii")
        try:
            self.vault.put(CREDENTIAL, "private_key", text, replace=False)
            log.info("gateway: generated a new Ed25519 host key (%s)", _public(key)[1])
        except VaultError:
            # Another process stored one first (or a record was lost): adopt what the vault has.
            key = self._private()
        public, fingerprint = _public(key)
        with translate(), self.engine.begin() as conn:
            conn.execute(
                pg_insert(host_key)
                .values(id=1, credential=CREDENTIAL, public_key=public, fingerprint=fingerprint)
                .on_conflict_do_nothing(index_elements=[host_key.c.id])
            )
        info = self.info()
        assert info is not None
        return info

    def _private(self) -> asyncssh.SSHKey:
        try:
            text = self.vault.get(CREDENTIAL).secret()
        except CredentialNotFound:
            raise HostKeyError(
                f"the gateway's host key credential {CREDENTIAL!r} is missing from the vault"
            ) from None
        except VaultError as exc:
            raise HostKeyError(f"the gateway's host key cannot be decrypted: {exc}") from None
        return _import(text)

    def load(self) -> tuple[asyncssh.SSHKey, HostKeyInfo]:
        """The private key for the server, decrypted from the vault, and its public half; the
        record follows the vault when the credential was replaced on purpose."""
        info = self.ensure()
        key = self._private()
        public, fingerprint = _public(key)
        if fingerprint != info.fingerprint:
            log.warning(
                "gateway: the host key in the vault (%s) is not the recorded one (%s): it was "
                "replaced; users must re-pin it (`%s`)",
                fingerprint,
                info.fingerprint,
                invoked("gateway host-key"),
            )
            with translate(), self.engine.begin() as conn:
                conn.execute(
                    update(host_key)
                    .where(host_key.c.id == 1)
                    .values(public_key=public, fingerprint=fingerprint)
                )
            info = HostKeyInfo(public, fingerprint, info.credential, info.created_at)
        return key, info
