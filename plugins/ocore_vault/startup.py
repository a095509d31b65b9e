"""The startup check: refuse to serve when stored rows use a key id no configured key has."""

from __future__ import annotations

import logging
import sys

from ocore_flask.errors import EX_CONFIG, StartupError
from ocore_flask.invocation import invoked
from ocore_vault.schema import TABLE_NAME
from ocore_vault.store import CredentialStore, VaultStatus

__all__ = [
    "REPORTS_KEY_IDS",
    "UnknownKeysError",
    "check_key_ids",
    "unknown_keys_fix",
    "unknown_keys_message",
]

log = logging.getLogger("ocore_vault")

#: click ``ctx.meta`` flag set by a repair command that reports unknown key ids itself
#: (``ocore vault status``), so the startup check does not print the same report before it.
REPORTS_KEY_IDS = "ocore_vault.reports_key_ids"


class UnknownKeysError(StartupError):
    """Credentials are stored under keys this configuration does not have (exit 78)."""

    exit_code = EX_CONFIG

    def __init__(self, status: VaultStatus) -> None:
        self.status = status
        super().__init__(unknown_keys_message(status))


def unknown_keys_message(status: VaultStatus) -> str:
    """Name the foreign key ids and their row counts, and say how to fix it."""
    found = ", ".join(
        f"{k.key_id} ({k.rows} row{'s' if k.rows != 1 else ''})" for k in status.unknown_keys
    )
    configured = ", ".join(f"{k.key_id} ({k.role})" for k in status.keys if k.role != "UNKNOWN")
    return (
        f"ocore: the vault holds {status.rows_on_unknown_keys} credential(s) encrypted under "
        f"key ids that no configured key has: {found}. Configured keys: {configured}; the "
        f"active key is {active_source_text(status)}. Fix: {unknown_keys_fix()} "
        f"To inspect or remove those rows: `{invoked('vault status')}`, "
        f"`{invoked('vault list')}`, `{invoked('vault delete NAME')}`."
    )


def unknown_keys_fix() -> str:
    """How to make rows on unknown key ids readable again."""
    return (
        "add the key that wrote them to SSH_ENCRYPTION_KEY_PREVIOUS (comma-separated) and run "
        f"`{invoked('vault rotate')}`; if this database was restored from another deployment, "
        "use that deployment's key; in development the key derives from JWT_SECRET, so a "
        "changed JWT_SECRET does this: restore the old JWT_SECRET."
    )


def active_source_text(status: VaultStatus) -> str:
    """The active key's id and where it came from."""
    return f"{status.active_key_id} ({status.active_source})"


def check_key_ids(store: CredentialStore, *, refuse: bool = True) -> VaultStatus | None:
    """Raise UnknownKeysError on foreign key ids (or only log when ``refuse`` is false)."""
    if not store.table_exists():
        log.warning(
            "vault: the %s table does not exist yet; run `%s` (the stored key ids were not "
            "checked)",
            TABLE_NAME,
            invoked("db upgrade"),
        )
        return None
    status = store.status()
    if status.unknown_keys:
        if refuse:
            raise UnknownKeysError(status)
        if not _command_reports_key_ids():
            log.warning("vault: %s", unknown_keys_message(status))
    elif status.rows_on_previous_keys:
        log.info(
            "vault: %d credential(s) still on previous keys; run `%s`",
            status.rows_on_previous_keys,
            invoked("vault rotate"),
        )
    return status


def _command_reports_key_ids() -> bool:
    """Whether the running click command prints the unknown key ids itself."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    return bool(ctx is not None and ctx.meta.get(REPORTS_KEY_IDS))
