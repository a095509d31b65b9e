"""The ``vault`` health section: key ids in use, rows left to rotate, unknown keys degrade."""

from __future__ import annotations

import ocore_vault
from ocore_flask.testing import HEALTH_TOKEN
from ocore_vault.store import CredentialKind, CredentialStore

AUTH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


def vault_section(app) -> dict:
    response = app.test_client().get("/api/health", headers=AUTH)
    assert response.status_code == 200  # the section is not critical
    return response.get_json()["checks"]["vault"]


def test_section_reports_rows_per_key_id(make_vault_app, vault_env, vault_keys):
    app = make_vault_app(vault_env)
    ocore_vault.credentials(app).put("web", CredentialKind.PASSWORD, "Health-Password-1")
    section = vault_section(app)
    assert section["status"] == "ok" and section["critical"] is False
    assert section["data"] == {
        "active_key_id": vault_keys.key_id(vault_keys.a),
        "active_key_source": "SSH_ENCRYPTION_KEY",
        "rows_total": 1,
        "rows_on_previous_keys": 0,
        "rows_on_unknown_keys": 0,
        "keys": [{"key_id": vault_keys.key_id(vault_keys.a), "rows": 1, "key": "active"}],
    }


def test_rows_on_previous_keys_are_counted(make_vault_app, vault_env, engine, vault_keys):
    CredentialStore(engine, vault_keys.ring(vault_keys.a)).put(
        "web", CredentialKind.PASSWORD, "Health-Password-1"
    )
    env = {
        **vault_env,
        "SSH_ENCRYPTION_KEY": vault_keys.b,
        "SSH_ENCRYPTION_KEY_PREVIOUS": vault_keys.a,
    }
    section = vault_section(make_vault_app(env))
    assert section["status"] == "ok"
    assert section["data"]["rows_on_previous_keys"] == 1
    assert "ocore vault rotate" in section["message"]


def test_unknown_key_id_degrades(make_vault_app, vault_env, engine, vault_keys):
    app = make_vault_app(vault_env)
    # Written after startup by something holding another key (e.g. a misconfigured worker).
    CredentialStore(engine, vault_keys.ring(vault_keys.c)).put(
        "stray", CredentialKind.PASSWORD, "Stray-Password-1"
    )
    section = vault_section(app)
    assert section["status"] == "degraded"
    assert vault_keys.key_id(vault_keys.c) in section["message"]
    assert section["data"]["rows_on_unknown_keys"] == 1
    assert {"key_id": vault_keys.key_id(vault_keys.c), "rows": 1, "key": "UNKNOWN"} in section[
        "data"
    ]["keys"]


def test_missing_table_degrades(make_vault_app, vault_env, empty_database):
    app = make_vault_app({**vault_env, "DATABASE_URL": empty_database})
    section = vault_section(app)
    assert section["status"] == "degraded" and "ocore db upgrade" in section["message"]
