"""What a stored credential is: its kind, the CredentialInfo shown, the encrypted Credential."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import paramiko

from ocore_vault.crypto import KeyRing, MalformedValue, Purpose
from ocore_vault.privatekeys import ParsedKey, load_private_key
from ocore_vault.schema import TABLE_NAME

from .errors import CredentialError, InvalidCredential
from .keycache import KeyCache, cache_key


class CredentialKind(enum.StrEnum):
    """What a credential holds; the value is what the ``kind`` column stores."""

    PASSWORD = "password"  # noqa: S105 (a kind label, not a secret)
    PRIVATE_KEY = "private_key"


SECRET_PURPOSE = {
    CredentialKind.PASSWORD: Purpose.PASSWORD,
    CredentialKind.PRIVATE_KEY: Purpose.PRIVATE_KEY,
}


@dataclass(frozen=True, eq=False, repr=False)
class CredentialInfo:
    """What may be shown about a credential: never the secret, never the passphrase."""

    id: uuid.UUID
    name: str
    kind: CredentialKind
    username: str | None
    fingerprint: str | None
    key_id: bytes
    has_passphrase: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def key_id_hex(self) -> str:
        """The key id of the key that encrypted this row, as 16 hex digits."""
        return self.key_id.hex()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``vault list --json``)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "username": self.username,
            "fingerprint": self.fingerprint,
            "has_passphrase": self.has_passphrase,
            "key_id": self.key_id_hex,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, kind={self.kind.value!r}, "
            f"username={self.username!r}, key_id={self.key_id_hex!r}, version={self.version})"
        )

    __str__ = __repr__


@dataclass(frozen=True, eq=False, repr=False)
class Credential(CredentialInfo):
    """A stored credential; its values stay encrypted until a method asks for them."""

    _secret: bytes
    _passphrase: bytes | None
    _ring: KeyRing
    _keys: KeyCache | None = None

    def _open(self, blob: bytes, purpose: Purpose) -> str:
        plain = self._ring.decrypt(blob, purpose=purpose, table=TABLE_NAME, row_id=str(self.id))
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedValue(f"stored {purpose.value} of {self.name!r} is not UTF-8") from None

    def secret(self) -> str:
        """Decrypt the password or the private key text (as stored: maybe still encrypted)."""
        return self._open(self._secret, SECRET_PURPOSE[self.kind])

    def passphrase(self) -> str | None:
        """Decrypt the private key's passphrase, or None when the key has none."""
        if self._passphrase is None:
            return None
        return self._open(self._passphrase, Purpose.PASSPHRASE)

    def parsed_key(self) -> ParsedKey:
        """Decrypt and load the private key, checking it is still the key that was stored."""
        if self.kind is not CredentialKind.PRIVATE_KEY:
            raise InvalidCredential(f"credential {self.name!r} is a password, not a private key")
        # Stored keys were bounded when stored; a bound lowered since must not lock them out.
        parsed = load_private_key(self.secret(), self.passphrase(), max_kdf_rounds=None)
        if parsed.fingerprint != self.fingerprint:
            raise CredentialError(
                f"credential {self.name!r} decrypts to a key whose fingerprint "
                f"({parsed.fingerprint}) differs from the stored one ({self.fingerprint})"
            )
        return parsed

    def private_key(self) -> paramiko.PKey:
        """The key as a paramiko PKey, built in memory (never written to disk); decrypted once
        per stored version when the store keeps a key cache."""
        if self._keys is None:
            return self.parsed_key().to_paramiko()
        key = cache_key(self.id, self.version, self._secret, self._passphrase)
        return self._keys.get(key, lambda: self.parsed_key().to_paramiko())

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credential cannot be pickled")
