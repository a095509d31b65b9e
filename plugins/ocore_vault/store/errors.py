"""CredentialError and its subclasses, and translating a missing table into VaultNotMigrated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from ocore_flask.invocation import invoked
from ocore_vault.crypto import VaultError
from ocore_vault.schema import TABLE_NAME


class CredentialError(VaultError):
    """A credential operation was refused (bad input, missing row, schema not migrated)."""


class CredentialNotFound(CredentialError, LookupError):
    """No credential has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no credential named {name!r}")


class CredentialExists(CredentialError):
    """``put`` without ``replace`` found the name taken."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a credential named {name!r} already exists")


class CredentialInUse(CredentialError):
    """``delete`` refused: another table (e.g. the SSH plugin's servers) still refers to it;
    ``users`` maps each referring table to the names of its rows."""

    def __init__(self, name: str, users: dict[str, list[str]] | None = None) -> None:
        self.name = name
        self.users = users or {}
        if self.users:
            which = "; ".join(f"{table} {', '.join(rows)}" for table, rows in self.users.items())
            where = f"it is used by {which}"
        else:
            where = "another table refers to it"
        super().__init__(
            f"credential {name!r} is still in use ({where}); point those at another "
            "credential or remove them first"
        )


class InvalidCredential(CredentialError, ValueError):
    """The name, username or secret given to ``put`` is not acceptable."""


class VaultNotMigrated(CredentialError):
    """The credentials table does not exist yet."""

    def __init__(self) -> None:
        super().__init__(
            f"the {TABLE_NAME} table does not exist; run `{invoked('db upgrade')}` first"
        )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn "relation does not exist" into VaultNotMigrated; other errors pass through."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise VaultNotMigrated() from None
        raise
