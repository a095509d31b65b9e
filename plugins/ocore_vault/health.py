"""The ``vault`` health section (not critical): key ids in use and rows left to rotate."""

from __future__ import annotations

import ocore_vault
from ocore_flask.health import CheckResult, HealthContributor, degraded, ok
from ocore_vault.store import VaultNotMigrated


def check_vault() -> CheckResult:
    """Rows per key id; degraded when a row is on a key id no configured key has."""
    store = ocore_vault.credentials()
    try:
        status = store.status()
    except VaultNotMigrated:
        return degraded(
            "credentials table missing: run `ocore db upgrade`",
            data={"active_key_id": store.keyring.active.key_id_hex},
        )
    data = status.to_dict()
    if status.unknown_keys:
        ids = ", ".join(k.key_id for k in status.unknown_keys)
        return degraded(
            f"{status.rows_on_unknown_keys} credential(s) on unknown key ids ({ids})", data=data
        )
    if status.rows_on_previous_keys:
        return ok(
            data,
            message=f"{status.rows_on_previous_keys} credential(s) on previous keys: "
            "run `ocore vault rotate`",
        )
    return ok(data)


CONTRIBUTOR = HealthContributor(
    "vault",
    check_vault,
    critical=False,
    timeout=2.0,
    description="Credential vault: active key id, rows per key id, rows still to rotate.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
