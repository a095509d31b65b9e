"""The vault's authenticated encryption of stored SSH credentials (no database, no Flask).

Keys
    HKDF-SHA256 (salt ``HKDF_SALT``) turns a configured secret string (UTF-8) into a 32-byte
    AES-256 key and, under a different info label, an 8-byte key id that is stored in every
    value so decryption can pick the right key and rotation can count rows per key. A key
    derived from ``JWT_SECRET`` (development only) uses its own pair of labels, so it is never
    the JWT signing key and its key id differs from the one the same string would give as
    ``SSH_ENCRYPTION_KEY``. Derivation happens once, when the ``VaultKey`` is built.

Stored value (bytes), ``FORMAT_VERSION`` 1, ``ALG_AES_256_GCM`` 1::

    offset  size  field
    0       2     magic b"SV"
    2       1     version        (1)
    3       1     algorithm      (1 = AES-256-GCM)
    4       8     key id
    12      12    nonce          (os.urandom)
    24      n+16  ciphertext || GCM tag

Associated data (binds the value to where it is stored)::

    value[0:12]                      magic, version, algorithm, key id (fixed length)
    || u32be(len(p)) || p            p = purpose.value, UTF-8 ("password", ...)
    || u32be(len(t)) || t            t = table name, UTF-8
    || u32be(len(r)) || r            r = row id, UTF-8

The nonce is not repeated in the associated data: GCM already authenticates it as the IV.
A value copied to another row, table or purpose, or edited in any byte, fails the tag check.
"""

from __future__ import annotations

import enum
import functools
import hmac
import os
import struct
from collections.abc import Sequence
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ocore_vault.cryptoerrors import IntegrityError as IntegrityError
from ocore_vault.cryptoerrors import MalformedValue as MalformedValue
from ocore_vault.cryptoerrors import UnknownKeyId as UnknownKeyId
from ocore_vault.cryptoerrors import UnsupportedFormat as UnsupportedFormat
from ocore_vault.cryptoerrors import VaultError as VaultError

__all__ = [
    "ALG_AES_256_GCM",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "HKDF_SALT",
    "INFO_JWT_SECRET_KEY",
    "INFO_JWT_SECRET_KEY_ID",
    "INFO_SSH_ENCRYPTION_KEY",
    "INFO_SSH_ENCRYPTION_KEY_ID",
    "KEY_ID_SIZE",
    "MAGIC",
    "MIN_SECRET_LENGTH",
    "MIN_VALUE_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "IntegrityError",
    "KeyRing",
    "MalformedValue",
    "Purpose",
    "UnknownKeyId",
    "UnsupportedFormat",
    "VaultError",
    "VaultKey",
    "key_id_of",
]

# Pinned by known-answer tests: changing any of these makes every stored value unreadable.
HKDF_SALT = b"ocore-vault/v1/hkdf-salt"
INFO_SSH_ENCRYPTION_KEY = b"ocore-vault/v1/ssh-encryption-key/aes-256-gcm-key"
INFO_SSH_ENCRYPTION_KEY_ID = b"ocore-vault/v1/ssh-encryption-key/key-id"
INFO_JWT_SECRET_KEY = b"ocore-vault/v1/jwt-secret/aes-256-gcm-key"
INFO_JWT_SECRET_KEY_ID = b"ocore-vault/v1/jwt-secret/key-id"

MAGIC = b"SV"
FORMAT_VERSION = 1
ALG_AES_256_GCM = 1
KEY_SIZE = 32
KEY_ID_SIZE = 8
NONCE_SIZE = 12
TAG_SIZE = 16
FIXED_HEADER_SIZE = len(MAGIC) + 2 + KEY_ID_SIZE  # the part that goes into the AD
HEADER_SIZE = FIXED_HEADER_SIZE + NONCE_SIZE
MIN_VALUE_SIZE = HEADER_SIZE + TAG_SIZE  # an empty plaintext
MIN_SECRET_LENGTH = 32

SOURCE_SSH_ENCRYPTION_KEY = "SSH_ENCRYPTION_KEY"
SOURCE_JWT_SECRET = "JWT_SECRET"  # noqa: S105 (a variable name, not a secret)


class Purpose(enum.Enum):
    """What a stored value is; part of the associated data, so columns cannot be swapped."""

    PASSWORD = "password"  # noqa: S105 (enum labels, not secrets)
    PRIVATE_KEY = "private_key"
    PASSPHRASE = "passphrase"  # noqa: S105

    # Members are singletons compared by identity; the C-level identity hash keeps the
    # memoised associated-data lookup cheap (Enum's own __hash__ is Python code).
    __hash__ = object.__hash__


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=HKDF_SALT, info=info).derive(secret)


class VaultKey:
    """One derived AES-256-GCM key and its key id; immutable, never shows the key bytes."""

    __slots__ = ("_aead", "_key", "key_id", "source")

    _aead: AESGCM
    _key: bytes
    key_id: bytes
    source: str

    def __init__(self, key: bytes, key_id: bytes, source: str) -> None:
        """Wrap already-derived material; use ``from_secret`` / ``from_jwt_secret`` instead."""
        if len(key) != KEY_SIZE or len(key_id) != KEY_ID_SIZE:
            raise ValueError("vault key must be 32 bytes and its key id 8 bytes")
        object.__setattr__(self, "_key", bytes(key))
        object.__setattr__(self, "key_id", bytes(key_id))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_aead", AESGCM(self._key))

    @classmethod
    def from_secret(cls, secret: str) -> VaultKey:
        """Derive the vault key from an ``SSH_ENCRYPTION_KEY`` (or a previous one)."""
        ikm = _secret_bytes(secret, SOURCE_SSH_ENCRYPTION_KEY)
        return cls(
            _hkdf(ikm, INFO_SSH_ENCRYPTION_KEY, KEY_SIZE),
            _hkdf(ikm, INFO_SSH_ENCRYPTION_KEY_ID, KEY_ID_SIZE),
            SOURCE_SSH_ENCRYPTION_KEY,
        )

    @classmethod
    def from_jwt_secret(cls, secret: str) -> VaultKey:
        """Derive the development vault key from ``JWT_SECRET`` under labels of its own."""
        ikm = _secret_bytes(secret, SOURCE_JWT_SECRET)
        return cls(
            _hkdf(ikm, INFO_JWT_SECRET_KEY, KEY_SIZE),
            _hkdf(ikm, INFO_JWT_SECRET_KEY_ID, KEY_ID_SIZE),
            SOURCE_JWT_SECRET,
        )

    @property
    def key_id_hex(self) -> str:
        """The key id as 16 lowercase hex digits, as logs and ``vault status`` show it."""
        return self.key_id.hex()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("VaultKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("VaultKey is immutable")

    def __repr__(self) -> str:
        return f"VaultKey(key_id={self.key_id_hex!r}, source={self.source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VaultKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key) and self.key_id == other.key_id

    def __hash__(self) -> int:
        return hash(self.key_id)

    # Immutable, so copies may share; refusing pickle keeps the key out of caches and sessions.
    def __copy__(self) -> VaultKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> VaultKey:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("VaultKey cannot be pickled")


def _secret_bytes(secret: str, source: str) -> bytes:
    if not isinstance(secret, str):
        raise TypeError(f"{source} must be a str")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"{source} must be at least {MIN_SECRET_LENGTH} characters")
    return secret.encode("utf-8")


def _field(value: str, name: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


_PREFIX = MAGIC + bytes((FORMAT_VERSION, ALG_AES_256_GCM))


@functools.lru_cache(maxsize=4096)
def _associated_data(fixed_header: bytes, purpose: Purpose | str, table: str, row_id: str) -> bytes:
    """The associated data, memoised: the same rows are read (and written) again and again.

    ``purpose`` may be a Purpose or its label; anything else raises ValueError (not cached).
    """
    label = Purpose(purpose)._value_
    return (
        fixed_header + _field(label, "purpose") + _field(table, "table") + _field(row_id, "row_id")
    )


def _plaintext_bytes(plaintext: object) -> bytes:
    if isinstance(plaintext, bytes | bytearray | memoryview):
        return bytes(plaintext)
    raise TypeError("plaintext must be bytes")


def _as_bytes(blob: bytes | bytearray | memoryview) -> bytes:
    # psycopg2 returns bytea as memoryview; anything that is not bytes-like is not a value.
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, bytearray | memoryview):
        return bytes(blob)
    raise MalformedValue(f"stored value must be bytes, got {type(blob).__name__}")


def _parse_header(blob: bytes) -> bytes:
    """Validate magic, version, algorithm and length; return the key id."""
    if len(blob) < len(MAGIC) or blob[: len(MAGIC)] != MAGIC:
        raise MalformedValue("stored value is not a vault value (bad magic)")
    if len(blob) < len(MAGIC) + 2:
        raise MalformedValue(f"stored value is truncated ({len(blob)} bytes)")
    version, algorithm = blob[2], blob[3]
    if version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"stored value has format version {version}; this build reads version "
            f"{FORMAT_VERSION} only",
            version=version,
            algorithm=None,
        )
    if algorithm != ALG_AES_256_GCM:
        raise UnsupportedFormat(
            f"stored value uses algorithm {algorithm}; this build knows only "
            f"{ALG_AES_256_GCM} (AES-256-GCM)",
            version=version,
            algorithm=algorithm,
        )
    if len(blob) < MIN_VALUE_SIZE:
        raise MalformedValue(
            f"stored value is truncated ({len(blob)} bytes, at least {MIN_VALUE_SIZE} expected)"
        )
    return blob[4:FIXED_HEADER_SIZE]


def key_id_of(blob: bytes | bytearray | memoryview) -> bytes:
    """Return the key id a stored value was written under, without decrypting it."""
    return _parse_header(_as_bytes(blob))


class KeyRing:
    """The active key (all writes) plus previous keys (reads only) for rotation."""

    def __init__(self, active: VaultKey, previous: Sequence[VaultKey] = ()) -> None:
        """Index keys by key id; an exact duplicate is ignored, a key-id collision refused."""
        self._active = active
        self._fixed = _PREFIX + active.key_id  # the AD's fixed header for every write
        kept: list[VaultKey] = []
        by_id: dict[bytes, VaultKey] = {active.key_id: active}
        for key in previous:
            seen = by_id.get(key.key_id)
            if seen is not None:
                if seen != key:
                    raise ValueError(f"two different vault keys share key id {key.key_id_hex}")
                continue
            by_id[key.key_id] = key
            kept.append(key)
        self.previous: tuple[VaultKey, ...] = tuple(kept)
        self._by_id = by_id
        # Decryption finds the key by the value's whole fixed header (magic, version,
        # algorithm, key id) in one lookup; anything else takes the slow, precise path.
        self._by_header = {_PREFIX + key_id: key for key_id, key in by_id.items()}

    @property
    def active(self) -> VaultKey:
        """The key every write uses (fixed for the ring's lifetime)."""
        return self._active

    def __repr__(self) -> str:
        prev = ", ".join(k.key_id_hex for k in self.previous)
        return f"KeyRing(active={self.active.key_id_hex}, previous=[{prev}])"

    def key_ids(self) -> tuple[bytes, ...]:
        """All configured key ids, the active one first."""
        return (self.active.key_id, *(k.key_id for k in self.previous))

    def describe(self, key_id: bytes | str) -> str | None:
        """Name a key id for reports: "active", "previous #N" (1-based), or None if unknown."""
        if isinstance(key_id, str):
            try:
                key_id = bytes.fromhex(key_id)
            except ValueError:
                return None
        if key_id == self.active.key_id:
            return "active"
        for number, key in enumerate(self.previous, start=1):
            if key.key_id == key_id:
                return f"previous #{number}"
        return None

    def key_for(self, key_id: bytes) -> VaultKey | None:
        """The configured key with this key id, or None."""
        return self._by_id.get(key_id)

    key_id_of = staticmethod(key_id_of)

    def is_current(self, blob: bytes | bytearray | memoryview) -> bool:
        """Whether a stored value is already under the active key (rotation skips it)."""
        return key_id_of(blob) == self.active.key_id

    def encrypt(self, plaintext: bytes, *, purpose: Purpose, table: str, row_id: str) -> bytes:
        """Encrypt with the active key and a fresh random nonce, bound to purpose/table/row."""
        # The hot path of every write and of rotation: plain type checks, nothing re-derived.
        if type(plaintext) is not bytes:
            plaintext = _plaintext_bytes(plaintext)
        fixed = self._fixed
        nonce = os.urandom(NONCE_SIZE)
        ad = _associated_data(fixed, purpose, table, row_id)
        return b"".join((fixed, nonce, self._active._aead.encrypt(nonce, plaintext, ad)))

    def _encrypt_with_nonce(
        self, plaintext: bytes, nonce: bytes, *, purpose: Purpose, table: str, row_id: str
    ) -> bytes:
        # Tests only (known-answer vector): a reused nonce under one key breaks GCM.
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
        ad = _associated_data(self._fixed, purpose, table, row_id)
        ciphertext = self._active._aead.encrypt(nonce, _plaintext_bytes(plaintext), ad)
        return self._fixed + nonce + ciphertext

    def decrypt(
        self,
        blob: bytes | bytearray | memoryview,
        *,
        purpose: Purpose,
        table: str,
        row_id: str,
    ) -> bytes:
        """Decrypt with the key the header names; raise a typed VaultError on any failure."""
        data = blob if type(blob) is bytes else _as_bytes(blob)
        fixed = data[:FIXED_HEADER_SIZE]
        key = self._by_header.get(fixed)
        if key is None or len(data) < MIN_VALUE_SIZE:
            key_id = _parse_header(data)  # the precise MalformedValue / UnsupportedFormat
            raise UnknownKeyId(key_id.hex(), [k.hex() for k in self.key_ids()])
        ad = _associated_data(fixed, purpose, table, row_id)
        try:
            return key._aead.decrypt(data[FIXED_HEADER_SIZE:HEADER_SIZE], data[HEADER_SIZE:], ad)
        except InvalidTag:
            raise IntegrityError(
                key_id_hex=key.key_id_hex, purpose=Purpose(purpose), table=table, row_id=row_id
            ) from None

    def reencrypt(
        self,
        blob: bytes | bytearray | memoryview,
        *,
        purpose: Purpose,
        table: str,
        row_id: str,
    ) -> bytes:
        """Decrypt with whichever key wrote the value and encrypt again with the active key."""
        plaintext = self.decrypt(blob, purpose=purpose, table=table, row_id=row_id)
        return self.encrypt(plaintext, purpose=purpose, table=table, row_id=row_id)
