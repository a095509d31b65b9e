"""CredentialStore against real PostgreSQL: round trips, refusals, row and column binding."""

from __future__ import annotations

import pickle

import paramiko
import pytest
import sqlalchemy.exc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from sqlalchemy import create_engine, select, text, update

import ocore_database
import ocore_vault
from ocore_database.testing import sqlalchemy_url
from ocore_ssh.testing import body_lines, ed25519_openssh
from ocore_vault.crypto import IntegrityError, UnknownKeyId
from ocore_vault.privatekeys import KeyFormatError, UnsupportedKeyType, WrongPassphrase
from ocore_vault.schema import credentials as t
from ocore_vault.store import (
    CredentialExists,
    CredentialInUse,
    CredentialKind,
    CredentialNotFound,
    CredentialStore,
    InvalidCredential,
    VaultNotMigrated,
)

PASSWORD = "Correct-Horse-9-Battery"


def test_app_wires_a_store_on_the_shared_engine(make_vault_app, vault_env, vault_keys):
    app = make_vault_app(vault_env)
    store = ocore_vault.credentials(app)
    assert store.engine is ocore_database.engine(app)
    assert store.keyring.active.key_id_hex == vault_keys.key_id(vault_keys.a)
    assert vault_keys.a not in repr(store) and vault_keys.a not in repr(store.keyring)


def test_password_round_trip_and_replace_in_place(store_for, vault_keys):
    store = store_for(vault_keys.a)
    info = store.put("web-1", CredentialKind.PASSWORD, PASSWORD, username="root")
    assert (info.name, info.kind, info.username, info.version) == ("web-1", "password", "root", 1)
    assert info.fingerprint is None and not info.has_passphrase
    assert info.key_id_hex == vault_keys.key_id(vault_keys.a)

    credential = store.get("web-1")
    assert credential.secret() == PASSWORD
    assert credential.passphrase() is None
    for shown in (repr(credential), str(credential), repr(store.list()), str(info.to_dict())):
        assert PASSWORD not in shown
    with pytest.raises(TypeError):
        pickle.dumps(credential)

    again = store.put("web-1", "password", "Another-Secret-77", username="admin")
    assert again.id == info.id and again.created_at == info.created_at
    assert again.version == 2 and again.username == "admin"
    assert store.get("web-1").secret() == "Another-Secret-77"
    with pytest.raises(CredentialExists):
        store.put("web-1", CredentialKind.PASSWORD, "x-Third-1", replace=False)
    assert store.get("web-1").secret() == "Another-Secret-77"


def test_private_key_round_trip_with_passphrase(store_for, vault_keys):
    store = store_for(vault_keys.a)
    key_text = ed25519_openssh(vault_keys.passphrase)
    info = store.put(
        "deploy",
        CredentialKind.PRIVATE_KEY,
        key_text,
        username="deploy",
        passphrase=vault_keys.passphrase,
    )
    assert info.kind is CredentialKind.PRIVATE_KEY and info.has_passphrase
    assert info.fingerprint.startswith("SHA256:")

    credential = store.get("deploy")
    assert credential.secret() == key_text  # stored as given: still passphrase-protected
    assert credential.passphrase() == vault_keys.passphrase
    pkey = store.private_key("deploy")
    assert isinstance(pkey, paramiko.Ed25519Key)
    assert pkey.fingerprint == info.fingerprint
    for shown in (repr(credential), repr(info), str(store.list())):
        assert vault_keys.passphrase not in shown
        assert not any(line in shown for line in body_lines(key_text))

    # An unencrypted key stores no passphrase, even when one is given.
    plain = store.put(
        "plain", CredentialKind.PRIVATE_KEY, ed25519_openssh(), passphrase="ignored-one"
    )
    assert not plain.has_passphrase and store.get("plain").passphrase() is None


def test_pkcs8_rsa_key_is_accepted_and_loaded_from_memory(store_for, vault_keys):
    store = store_for(vault_keys.a)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(vault_keys.passphrase.encode()),
    )
    store.put("rsa", CredentialKind.PRIVATE_KEY, pem, passphrase=vault_keys.passphrase)
    assert isinstance(store.private_key("rsa"), paramiko.RSAKey)


def test_bad_input_is_refused_with_typed_errors(store_for, vault_keys):
    store = store_for(vault_keys.a)
    with pytest.raises(InvalidCredential, match="empty"):
        store.put("web", CredentialKind.PASSWORD, "")
    with pytest.raises(InvalidCredential, match="line break"):
        store.put("web", CredentialKind.PASSWORD, "two\nlines")
    for bad_name in ("", " web", "web 1", "-web", "x" * 129, None):
        with pytest.raises(InvalidCredential, match="credential name"):
            store.put(bad_name, CredentialKind.PASSWORD, PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(InvalidCredential, match="username"):
        store.put("web", CredentialKind.PASSWORD, PASSWORD, username="root admin")
    with pytest.raises(InvalidCredential, match="kind"):
        store.put("web", "certificate", PASSWORD)
    with pytest.raises(InvalidCredential, match="no passphrase"):
        store.put("web", CredentialKind.PASSWORD, PASSWORD, passphrase=vault_keys.passphrase)
    with pytest.raises(KeyFormatError, match="not a private key"):
        store.put("key", CredentialKind.PRIVATE_KEY, "hello, I am not a key")
    with pytest.raises(WrongPassphrase):
        store.put(
            "key",
            CredentialKind.PRIVATE_KEY,
            ed25519_openssh(vault_keys.passphrase),
            passphrase="wrong-one",
        )
    dsa_pem = (
        dsa.generate_private_key(key_size=1024)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(UnsupportedKeyType, match="DSA"):
        store.put("key", CredentialKind.PRIVATE_KEY, dsa_pem)
    assert store.list() == []


def test_get_delete_and_missing(store_for, vault_keys):
    store = store_for(vault_keys.a)
    with pytest.raises(CredentialNotFound, match="'nope'"):
        store.get("nope")
    store.put("gone", CredentialKind.PASSWORD, PASSWORD)
    assert store.delete("gone") is True
    assert store.delete("gone") is False
    store.put("pw", CredentialKind.PASSWORD, PASSWORD)
    with pytest.raises(InvalidCredential, match="password, not a private key"):
        store.get("pw").private_key()


def _secret_of(engine, name: str, column: str = "secret") -> bytes:
    with engine.connect() as conn:
        return bytes(conn.execute(select(t.c[column]).where(t.c.name == name)).scalar_one())


def test_ciphertext_copied_into_another_row_fails(store_for, engine, vault_keys):
    store = store_for(vault_keys.a)
    store.put("alpha", CredentialKind.PASSWORD, "alpha-Password-1")
    store.put("beta", CredentialKind.PASSWORD, "beta-Password-2")
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.name == "beta").values(secret=_secret_of(engine, "alpha")))
    with pytest.raises(IntegrityError) as info:
        store.get("beta").secret()
    assert "alpha-Password-1" not in str(info.value)
    assert store.get("alpha").secret() == "alpha-Password-1"
    result = store.verify()
    assert not result.ok and [f.name for f in result.failures] == ["beta"]
    assert result.failures[0].error == "IntegrityError"


def test_ciphertext_copied_into_another_column_fails(store_for, engine, vault_keys):
    store = store_for(vault_keys.a)
    store.put(
        "key",
        CredentialKind.PRIVATE_KEY,
        ed25519_openssh(vault_keys.passphrase),
        passphrase=vault_keys.passphrase,
    )
    store.put("pw", CredentialKind.PASSWORD, PASSWORD)
    # The key's own private-key value moved into its passphrase column, and a password value
    # moved into a private key's secret column: both fail on the purpose in the AD.
    with engine.begin() as conn:
        conn.execute(
            update(t).where(t.c.name == "key").values(passphrase=_secret_of(engine, "key"))
        )
    with pytest.raises(IntegrityError, match="passphrase"):
        store.get("key").passphrase()
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.name == "pw").values(kind="private_key", fingerprint="x"))
    with pytest.raises(IntegrityError, match="private_key"):
        store.get("pw").secret()
    assert sorted(f.name for f in store.verify().failures) == ["key", "pw"]


def test_key_id_column_must_match_the_value_header(store_for, engine, vault_keys):
    store = store_for(vault_keys.a)
    store.put("pw", CredentialKind.PASSWORD, PASSWORD)
    store.put(
        "key",
        CredentialKind.PRIVATE_KEY,
        ed25519_openssh(vault_keys.passphrase),
        passphrase=vault_keys.passphrase,
    )
    other = bytes.fromhex(vault_keys.key_id(vault_keys.b))
    statements = [
        update(t).where(t.c.name == "pw").values(key_id=other),
        update(t).where(t.c.name == "pw").values(key_id=b"\x00" * 4),
        # passphrase written under another key than the secret
        update(t)
        .where(t.c.name == "key")
        .values(passphrase=store_for(vault_keys.b).keyring.encrypt(b"x", **_site("key", engine))),
        update(t).where(t.c.name == "pw").values(passphrase=_secret_of(engine, "pw")),
        update(t).where(t.c.name == "key").values(fingerprint=None),
    ]
    for statement in statements:
        with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as conn:
            conn.execute(statement)
    assert store.verify().ok


def _site(name: str, engine) -> dict:
    from ocore_vault.crypto import Purpose

    with engine.connect() as conn:
        row_id = conn.execute(select(t.c.id).where(t.c.name == name)).scalar_one()
    return {"purpose": Purpose.PASSPHRASE, "table": "vault_credentials", "row_id": str(row_id)}


def test_status_names_each_key_id(store_for, vault_keys):
    store_for(vault_keys.a).put("old-1", CredentialKind.PASSWORD, PASSWORD)
    store_for(vault_keys.a).put("old-2", CredentialKind.PASSWORD, PASSWORD)
    rotated = store_for(vault_keys.b, vault_keys.a)
    rotated.put("new-1", CredentialKind.PASSWORD, PASSWORD)
    status = rotated.status()
    assert status.active_key_id == vault_keys.key_id(vault_keys.b)
    assert [(k.key_id, k.rows, k.role) for k in status.keys] == [
        (vault_keys.key_id(vault_keys.b), 1, "active"),
        (vault_keys.key_id(vault_keys.a), 2, "previous #1"),
    ]
    assert (status.rows_total, status.rows_on_previous_keys, status.rows_on_unknown_keys) == (
        3,
        2,
        0,
    )
    # With key A forgotten, its rows are UNKNOWN and do not decrypt.
    forgot = store_for(vault_keys.b)
    status = forgot.status()
    assert [(k.key_id, k.rows, k.role) for k in status.unknown_keys] == [
        (vault_keys.key_id(vault_keys.a), 2, "UNKNOWN")
    ]
    with pytest.raises(UnknownKeyId):
        forgot.get("old-1").secret()
    assert status.to_dict()["rows_on_unknown_keys"] == 2


def test_missing_table_is_a_clear_error(empty_database, vault_keys):
    engine = create_engine(sqlalchemy_url(empty_database))
    store = CredentialStore(engine, vault_keys.ring(vault_keys.a))
    assert store.table_exists() is False
    with pytest.raises(VaultNotMigrated, match="ocore db upgrade"):
        store.list()
    with pytest.raises(VaultNotMigrated):
        store.put("web", CredentialKind.PASSWORD, PASSWORD)
    engine.dispose()


def test_a_credential_in_use_cannot_be_deleted(store_for, engine, vault_keys):
    store = store_for(vault_keys.a)
    store.put("used", CredentialKind.PASSWORD, PASSWORD)
    with engine.begin() as conn:  # what the SSH plugin's servers table does
        conn.execute(
            text(
                "CREATE TABLE t_users (credential text NOT NULL "
                "REFERENCES vault_credentials (name) ON DELETE RESTRICT)"
            )
        )
        conn.execute(text("INSERT INTO t_users VALUES ('used')"))
    try:
        with pytest.raises(CredentialInUse, match="'used' is still in use") as caught:
            store.delete("used")
        # A referring table without a name column: its rows are counted.
        assert "it is used by t_users 1 row(s)" in str(caught.value)
        assert store.get("used").secret() == PASSWORD
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE t_users"))
