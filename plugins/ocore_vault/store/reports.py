"""Reports about the stored rows: verify outcomes and rows per key id (``vault status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocore_vault.keyring import UNKNOWN


@dataclass(frozen=True)
class VerifyFailure:
    """A credential that did not decrypt (or load) with the configured keys."""

    name: str
    error: str  # the exception class, e.g. "IntegrityError"
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: how many rows were checked and which failed."""

    checked: int
    failures: tuple[VerifyFailure, ...]

    @property
    def ok(self) -> bool:
        """Whether every row decrypted."""
        return not self.failures


@dataclass(frozen=True)
class KeyUsage:
    """Rows stored under one key id and which configured key (if any) that is."""

    key_id: str
    rows: int
    role: str  # "active", "previous #N", "UNKNOWN"


@dataclass(frozen=True)
class VaultStatus:
    """Rows per key id: the active key first, then previous keys, then unknown ones."""

    active_key_id: str
    active_source: str
    keys: tuple[KeyUsage, ...] = field(default_factory=tuple)

    @property
    def rows_total(self) -> int:
        """Every stored credential."""
        return sum(k.rows for k in self.keys)

    @property
    def rows_on_previous_keys(self) -> int:
        """Rows that ``rotate`` would move to the active key."""
        return sum(k.rows for k in self.keys if k.role not in ("active", UNKNOWN))

    @property
    def unknown_keys(self) -> tuple[KeyUsage, ...]:
        """Key ids in use that no configured key has."""
        return tuple(k for k in self.keys if k.role == UNKNOWN)

    @property
    def rows_on_unknown_keys(self) -> int:
        """Rows no configured key can decrypt."""
        return sum(k.rows for k in self.unknown_keys)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, shared by ``vault status --json`` and the health section."""
        return {
            "active_key_id": self.active_key_id,
            "active_key_source": self.active_source,
            "rows_total": self.rows_total,
            "rows_on_previous_keys": self.rows_on_previous_keys,
            "rows_on_unknown_keys": self.rows_on_unknown_keys,
            "keys": [{"key_id": k.key_id, "rows": k.rows, "key": k.role} for k in self.keys],
        }
