"""Wiring and the startup check: the key ring from config, and refusal on foreign key ids."""

from __future__ import annotations

import logging

import pytest

import ocore_vault
from ocore_flask.errors import EX_CONFIG, StartupError
from ocore_flask.testing import JWT_SECRET, base_env, run, script
from ocore_vault.crypto import VaultKey
from ocore_vault.keyring import key_role
from ocore_vault.rotate import rotate
from ocore_vault.store import CredentialKind

OTHER_JWT = "other-jwt-Rt5Yu8Io1Pa4Sd7Fg0Hj3Kl6Zx9Cv"


def store_of(app):
    return ocore_vault.credentials(app)


def put_rows(app, count: int, prefix: str = "web") -> None:
    for i in range(count):
        store_of(app).put(f"{prefix}-{i}", CredentialKind.PASSWORD, f"Password-{i}-xyz")


def test_keyring_is_built_once_from_config(make_vault_app, dev_vault_env, vault_env, vault_keys):
    dev = ocore_vault.credentials(make_vault_app(dev_vault_env)).keyring
    assert dev.active == VaultKey.from_jwt_secret(JWT_SECRET)
    assert dev.previous == ()

    a, b, c = vault_keys.a, vault_keys.b, vault_keys.c
    env = {**vault_env, "SSH_ENCRYPTION_KEY_PREVIOUS": f"{b}, {c},{b},{a}"}
    keys = ocore_vault.credentials(make_vault_app(env)).keyring
    assert keys.active == VaultKey.from_secret(vault_keys.a)
    # The listed keys in order (repeats and the active key dropped), then, in development,
    # the JWT_SECRET-derived key so rows written before SSH_ENCRYPTION_KEY was set stay readable.
    assert [k.key_id_hex for k in keys.previous] == [
        vault_keys.key_id(vault_keys.b),
        vault_keys.key_id(vault_keys.c),
        VaultKey.from_jwt_secret(JWT_SECRET).key_id_hex,
    ]
    assert key_role(keys, bytes.fromhex(vault_keys.key_id(vault_keys.c))) == "previous #2"
    assert key_role(keys, keys.previous[-1].key_id).startswith("previous (development")
    assert key_role(keys, b"\x00" * 8) == "UNKNOWN"


def test_strict_mode_uses_only_configured_keys(make_vault_app, strict_env, vault_db, vault_keys):
    env = {**strict_env, "DATABASE_URL": vault_db, "SSH_ENCRYPTION_KEY": vault_keys.b}
    env["SSH_ENCRYPTION_KEY_PREVIOUS"] = vault_keys.a
    keys = ocore_vault.credentials(make_vault_app(env)).keyring
    assert keys.active == VaultKey.from_secret(vault_keys.b)
    assert [k.key_id_hex for k in keys.previous] == [vault_keys.key_id(vault_keys.a)]


def test_foreign_key_id_refuses_to_start(make_vault_app, vault_env, vault_keys):
    put_rows(make_vault_app(vault_env), 3)  # written under key A
    with pytest.raises(StartupError) as info:
        make_vault_app({**vault_env, "SSH_ENCRYPTION_KEY": vault_keys.b})
    error = info.value
    assert error.exit_code == EX_CONFIG == 78
    message = error.render()
    assert f"{vault_keys.key_id(vault_keys.a)} (3 rows)" in message
    assert f"{vault_keys.key_id(vault_keys.b)} (active)" in message
    assert "SSH_ENCRYPTION_KEY_PREVIOUS" in message and "JWT_SECRET" in message
    assert "\n" not in message
    for secret in (vault_keys.a, vault_keys.b, JWT_SECRET):
        assert secret not in message


def test_previous_key_lets_it_start_and_rotate(make_vault_app, vault_env, vault_keys):
    put_rows(make_vault_app(vault_env), 3)
    app = make_vault_app(
        {
            **vault_env,
            "SSH_ENCRYPTION_KEY": vault_keys.b,
            "SSH_ENCRYPTION_KEY_PREVIOUS": vault_keys.a,
        }
    )
    status = store_of(app).status()
    assert [(k.key_id, k.rows, k.role) for k in status.keys] == [
        (vault_keys.key_id(vault_keys.b), 0, "active"),
        (vault_keys.key_id(vault_keys.a), 3, "previous #1"),
    ]
    assert store_of(app).get("web-1").secret() == "Password-1-xyz"


def test_previous_key_removed_too_early_refuses(make_vault_app, vault_env, vault_keys):
    put_rows(make_vault_app(vault_env), 5)
    both = {
        **vault_env,
        "SSH_ENCRYPTION_KEY": vault_keys.b,
        "SSH_ENCRYPTION_KEY_PREVIOUS": vault_keys.a,
    }
    app = make_vault_app(both)
    partial = rotate(store_of(app).engine, store_of(app).keyring, batch_size=2, max_batches=1)
    assert partial.rotated == 2 and partial.remaining == 3

    only_b = {**vault_env, "SSH_ENCRYPTION_KEY": vault_keys.b}
    with pytest.raises(StartupError, match=rf"{vault_keys.key_id(vault_keys.a)} \(3 rows\)"):
        make_vault_app(only_b)

    assert rotate(store_of(app).engine, store_of(app).keyring).complete
    assert store_of(make_vault_app(only_b)).get("web-4").secret() == "Password-4-xyz"


def test_changed_development_jwt_secret_is_caught(make_vault_app, dev_vault_env, vault_keys):
    put_rows(make_vault_app(dev_vault_env), 1)
    with pytest.raises(StartupError, match="JWT_SECRET") as info:
        make_vault_app({**dev_vault_env, "JWT_SECRET": OTHER_JWT})
    assert VaultKey.from_jwt_secret(JWT_SECRET).key_id_hex in str(info.value)
    # Setting SSH_ENCRYPTION_KEY in development keeps the JWT-derived rows readable.
    app = make_vault_app({**dev_vault_env, "SSH_ENCRYPTION_KEY": vault_keys.a})
    assert store_of(app).get("web-0").secret() == "Password-0-xyz"
    assert rotate(store_of(app).engine, store_of(app).keyring).rotated == 1


def test_missing_table_warns_and_starts(
    make_vault_app, vault_env, empty_database, caplog, vault_keys
):
    caplog.set_level(logging.WARNING, logger="ocore_vault")
    app = make_vault_app({**vault_env, "DATABASE_URL": empty_database})
    assert ocore_vault.credentials(app).keyring.active.key_id_hex == vault_keys.key_id(vault_keys.a)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ocore_vault"]
    assert any("vault_credentials" in w and "ocore db upgrade" in w for w in warnings)


def test_rows_written_by_a_stray_ring_are_caught_at_the_next_start(
    make_vault_app, vault_env, vault_keys
):
    app = make_vault_app(vault_env)
    store = store_of(app)
    type(store)(store.engine, vault_keys.ring(vault_keys.c)).put(
        "stray", CredentialKind.PASSWORD, "Stray-Password-1"
    )
    with pytest.raises(StartupError, match=rf"{vault_keys.key_id(vault_keys.c)} \(1 row\)"):
        make_vault_app(vault_env)


def test_the_unknown_key_report_is_printed_once(make_vault_app, vault_env, vault_keys):
    put_rows(make_vault_app(vault_env), 2)
    env = base_env({**vault_env, "SSH_ENCRYPTION_KEY": vault_keys.b})
    foreign = vault_keys.key_id(vault_keys.a)
    # `vault status` reports the unknown key ids itself: the startup check stays quiet.
    status = run([script("ocore"), "vault", "status"], env)
    assert status.returncode == 0, status.stderr
    output = status.stdout + status.stderr
    assert output.count("SSH_ENCRYPTION_KEY_PREVIOUS") == 1, output
    assert "2 credential(s) on UNKNOWN key ids: add the key that wrote them" in status.stdout
    assert f"{foreign}  2     UNKNOWN" in status.stdout
    # Other repair commands warn once; anything else refuses once, exit 78.
    listed = run([script("ocore"), "vault", "list"], env)
    assert (listed.stdout + listed.stderr).count("no configured key has") == 1
    refused = run([script("ocore"), "health"], env)
    assert refused.returncode == 78
    assert (refused.stdout + refused.stderr).count("no configured key has") == 1
