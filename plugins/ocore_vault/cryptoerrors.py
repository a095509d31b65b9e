"""The vault's typed decryption errors: every failure is a ``VaultError``, none returns a
placeholder value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocore_vault.crypto import Purpose


class VaultError(Exception):
    """Base of every vault failure, so callers can catch the family in one clause."""


class MalformedValue(VaultError):
    """The stored bytes are not a vault value at all (too short, wrong magic, wrong type)."""


class UnsupportedFormat(VaultError):
    """The value names a format version or algorithm this code does not implement."""

    def __init__(self, message: str, *, version: int, algorithm: int | None) -> None:
        super().__init__(message)
        self.version = version
        self.algorithm = algorithm


class UnknownKeyId(VaultError):
    """The value was written under a key that no configured key matches."""

    def __init__(self, key_id_hex: str, configured: Sequence[str]) -> None:
        self.key_id_hex = key_id_hex
        self.configured = tuple(configured)
        super().__init__(
            f"stored value was encrypted with key id {key_id_hex}, which no configured key has "
            f"(configured key ids: {', '.join(self.configured)}); add the key that wrote it to "
            "SSH_ENCRYPTION_KEY_PREVIOUS (comma-separated), or restore it as SSH_ENCRYPTION_KEY"
        )


class IntegrityError(VaultError):
    """The GCM tag did not verify: tampered, moved to another row/table/purpose, or wrong key."""

    def __init__(self, *, key_id_hex: str, purpose: Purpose, table: str, row_id: str) -> None:
        self.key_id_hex = key_id_hex
        self.purpose = purpose
        self.table = table
        self.row_id = row_id
        super().__init__(
            f"stored {purpose.value} in {table} row {row_id!r} (key id {key_id_hex}) failed its "
            "integrity check: it was altered, copied from another row, table or column, "
            "or written under a different key"
        )
