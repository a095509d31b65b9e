"""ServerStore and target_for against real PostgreSQL: rows, validation, pinning, credentials."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

import ocore_ssh
from ocore_database import migrations
from ocore_ssh.hostkeys import HostKeyChanged, fingerprint
from ocore_ssh.pool import KeyAuth, PasswordAuth
from ocore_ssh.servers import (
    CredentialUnusable,
    InvalidServer,
    ServerExists,
    ServerNotFound,
    ServersNotMigrated,
    ServerStore,
    normalise_host_key,
    target_for,
)
from ocore_ssh.testing import ed25519_openssh, public_line
from ocore_vault.crypto import KeyRing, VaultKey
from ocore_vault.store import CredentialInUse, CredentialStore

HOST_KEY = public_line(ed25519_openssh())
OTHER_KEY = public_line(ed25519_openssh())


@pytest.fixture
def store(engine: Engine) -> ServerStore:
    return ServerStore(engine)


@pytest.fixture
def with_password(vault: CredentialStore) -> str:
    vault.put("pw", "password", "s3cret-Password-1", username="deploy")
    return "pw"


def test_the_migration_is_applied_with_its_own_version_table(engine: Engine):
    assert migrations.current(engine, [ocore_ssh.plugin]) == {
        "ssh": {"current": "ssh_0002", "head": "ssh_0002"}
    }
    (fk,) = inspect(engine).get_foreign_keys("ssh_servers")
    assert (fk["referred_table"], fk["referred_columns"]) == ("vault_credentials", ["name"])
    columns = {c["name"] for c in inspect(engine).get_columns("ssh_servers")}
    assert columns == {
        "id",
        "name",
        "host",
        "port",
        "username",
        "credential",
        "host_key",
        "host_key_pinned_at",
        "created_at",
        "updated_at",
        "last_check_at",
        "last_check_status",
        "last_check_error",
    }


def test_add_get_list_delete(store: ServerStore, with_password: str):
    added = store.add("web1", "Web1.Example.com", credential=with_password, port=2222)
    assert (added.name, added.host, added.port) == ("web1", "web1.example.com", 2222)
    assert added.username is None and added.host_key is None and added.host_key_pinned_at is None
    assert added.created_at == added.updated_at
    store.add("db1", "10.0.0.5", credential=with_password, username="root", host_key=HOST_KEY)
    assert [s.name for s in store.list()] == ["db1", "web1"]
    db1 = store.get("db1")
    assert db1.username == "root" and db1.host_key == HOST_KEY
    assert db1.host_key_fingerprint == fingerprint(HOST_KEY) and db1.host_key_pinned_at
    assert db1.to_dict()["host_key_fingerprint"].startswith("SHA256:")
    assert store.delete("web1") is True and store.delete("web1") is False
    with pytest.raises(ServerNotFound, match="no server named 'web1'"):
        store.get("web1")


def test_a_name_is_taken_once(store: ServerStore, with_password: str):
    store.add("web1", "a.example.com", credential=with_password)
    with pytest.raises(ServerExists, match="'web1' already exists"):
        store.add("web1", "b.example.com", credential=with_password)
    assert store.get("web1").host == "a.example.com"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "server name is 1-64 characters"),
        ({"name": "-web"}, "server name is 1-64 characters"),
        ({"name": "web 1"}, "server name is 1-64 characters"),
        ({"name": "w" * 65}, "server name is 1-64 characters"),
        ({"host": ""}, "host is empty"),
        ({"host": "ssh://web1"}, "host name or IP address"),
        ({"host": "web1:22"}, "host name or IP address"),
        ({"port": 0}, "port must be a whole number from 1 to 65535"),
        ({"port": 70000}, "port must be a whole number from 1 to 65535"),
        ({"username": "bad user"}, "printable characters without spaces"),
        ({"credential": "bad name"}, "credential: a credential name"),
        ({"host_key": "ssh-ed25519"}, "not a usable host key"),
        ({"host_key": "ssh-ed25519 !!!!"}, "not a usable host key"),
        ({"host_key": "   "}, "host key is empty"),
    ],
)
def test_bad_input_is_refused_before_the_database(
    store: ServerStore, with_password: str, kwargs: dict, message: str
):
    args = {"name": "web1", "host": "web1.example.com", "credential": with_password, **kwargs}
    with pytest.raises(InvalidServer, match=message):
        store.add(args.pop("name"), args.pop("host"), **args)
    assert store.list() == []


def test_unknown_credential_is_refused_by_the_foreign_key(store: ServerStore):
    with pytest.raises(CredentialUnusable, match="no credential named 'nope' in the vault"):
        store.add("web1", "web1.example.com", credential="nope")


def test_a_credential_in_use_cannot_be_deleted_from_the_vault(
    store: ServerStore, vault: CredentialStore, with_password: str
):
    store.add("web1", "web1.example.com", credential=with_password)
    store.add("db1", "db1.example.com", credential=with_password)
    with pytest.raises(CredentialInUse, match="'pw' is still in use") as caught:
        vault.delete(with_password)
    # The vault names the servers without knowing the SSH plugin (the catalog's foreign keys).
    assert "it is used by ssh_servers db1, web1" in str(caught.value)
    assert caught.value.users == {"ssh_servers": ["db1", "web1"]}
    store.delete("db1")
    store.delete("web1")
    assert vault.delete(with_password) is True


def test_a_credential_missing_from_the_vault_is_a_clear_error(
    store: ServerStore, vault: CredentialStore, with_password: str
):
    added = store.add("web1", "web1.example.com", credential=with_password)
    server = replace(added, credential="x")  # the foreign key makes this unreachable in SQL
    with pytest.raises(CredentialUnusable, match="uses credential 'x', which is not in the vault"):
        target_for(server, vault)


def test_host_keys_are_normalised():
    assert normalise_host_key(HOST_KEY + " comment@host") == HOST_KEY
    assert normalise_host_key("[127.0.0.1]:2222 " + HOST_KEY) == HOST_KEY  # ssh-keyscan output


def test_pin_is_a_compare_and_set(store: ServerStore, with_password: str):
    store.add("web1", "web1.example.com", credential=with_password)
    assert store.pin("web1", HOST_KEY) is True
    pinned = store.get("web1")
    assert pinned.host_key == HOST_KEY and pinned.host_key_pinned_at is not None
    assert store.pin("web1", HOST_KEY + " comment") is False
    with pytest.raises(HostKeyChanged) as caught:
        store.pin("web1", OTHER_KEY)
    assert caught.value.expected_fingerprint == fingerprint(HOST_KEY)
    assert caught.value.presented_fingerprint == fingerprint(OTHER_KEY)
    assert store.get("web1").host_key == HOST_KEY
    with pytest.raises(ServerNotFound):
        store.pin("nope", HOST_KEY)


def test_forget_clears_the_pin_and_returns_it(store: ServerStore, with_password: str):
    store.add("web1", "web1.example.com", credential=with_password, host_key=HOST_KEY)
    assert store.forget("web1") == HOST_KEY
    forgotten = store.get("web1")
    assert forgotten.host_key is None and forgotten.host_key_pinned_at is None
    assert store.forget("web1") is None
    assert store.pin("web1", OTHER_KEY) is True
    with pytest.raises(ServerNotFound):
        store.forget("nope")


def test_target_with_a_password_credential(store: ServerStore, vault: CredentialStore):
    vault.put("pw", "password", "s3cret-Password-1", username="deploy")
    server = store.add("web1", "web1.example.com", credential="pw", host_key=HOST_KEY)
    target = target_for(server, vault)
    assert target.auth == PasswordAuth("s3cret-Password-1")
    assert (target.name, target.host, target.port) == ("web1", "web1.example.com", 22)
    assert target.username == "deploy" and target.pinned_host_key == HOST_KEY
    assert "s3cret-Password-1" not in repr(target)
    # The server's own username wins over the credential's.
    other = store.add("web2", "web2.example.com", credential="pw", username="root")
    assert target_for(other, vault).username == "root"


def test_target_with_a_private_key_credential(
    store: ServerStore, vault: CredentialStore, ssh_secrets
):
    key_text = ed25519_openssh(ssh_secrets.passphrase)
    info = vault.put(
        "key", "private_key", key_text, username="deploy", passphrase=ssh_secrets.passphrase
    )
    target = target_for(store.add("web1", "web1.example.com", credential="key"), vault)
    assert isinstance(target.auth, KeyAuth)
    assert target.auth.pkey.fingerprint == info.fingerprint


def test_no_username_anywhere_is_a_clear_error(store: ServerStore, vault: CredentialStore):
    vault.put("anon", "password", "s3cret-Password-1")
    server = store.add("web1", "web1.example.com", credential="anon")
    with pytest.raises(CredentialUnusable, match="has no username.*--user"):
        target_for(server, vault)


def test_encrypted_key_without_its_passphrase(
    store: ServerStore, vault: CredentialStore, engine: Engine, ssh_secrets
):
    vault.put(
        "key",
        "private_key",
        ed25519_openssh(ssh_secrets.passphrase),
        passphrase=ssh_secrets.passphrase,
    )
    with engine.begin() as conn:  # a row that lost its passphrase (the vault never writes one)
        conn.execute(text("UPDATE vault_credentials SET passphrase = NULL WHERE name = 'key'"))
    server = store.add("web1", "web1.example.com", credential="key", username="deploy")
    with pytest.raises(CredentialUnusable, match="encrypted and the vault holds no passphrase"):
        target_for(server, vault)


def test_a_credential_under_another_vault_key(store: ServerStore, vault: CredentialStore):
    vault.put("pw", "password", "s3cret-Password-1", username="deploy")
    server = store.add("web1", "web1.example.com", credential="pw")
    other = CredentialStore(vault.engine, KeyRing(VaultKey.from_secret("x" * 8 + "Kq3Wz9" * 5)))
    with pytest.raises(CredentialUnusable, match="server 'web1': .*key id"):
        target_for(server, other)


def test_an_unmigrated_database_is_a_clear_error(pg_server: str):
    engine = create_engine(pg_server.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with pytest.raises(ServersNotMigrated, match="run `ocore db upgrade`"):
            ServerStore(engine).list()
    finally:
        engine.dispose()
