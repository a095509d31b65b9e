"""A passphrase-protected key costs bcrypt once per stored version, and a key whose KDF asks
for more than MAX_KDF_ROUNDS rounds is refused when stored, naming the rounds and the fix."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import ssh as crypto_ssh

from ocore_vault.privatekeys import (
    MAX_KDF_ROUNDS,
    KdfTooExpensive,
    PassphraseRequired,
    load_private_key,
)
from ocore_vault.rotate import rotate
from ocore_vault.store import CredentialKind

PASSPHRASE = "passphrase-Kc4Vn8Tw2Q"


def openssh_key(rounds: int, passphrase: str = PASSPHRASE) -> str:
    """An Ed25519 key in OpenSSH format whose passphrase costs ``rounds`` bcrypt rounds."""
    builder = serialization.PrivateFormat.OpenSSH.encryption_builder().kdf_rounds(rounds)
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            builder.build(passphrase.encode()),
        )
        .decode()
    )


@pytest.fixture
def bcrypt_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real bcrypt KDF runs (the rounds of each) while a test runs."""
    runs: list[int] = []
    real = crypto_ssh._bcrypt_kdf

    def counting(password, salt, desired_key_bytes, rounds, ignore_few_rounds=False):
        runs.append(rounds)
        return real(password, salt, desired_key_bytes, rounds, ignore_few_rounds)

    monkeypatch.setattr(crypto_ssh, "_bcrypt_kdf", counting)
    return runs


def test_kdf_rounds_above_the_bound_are_refused_before_any_bcrypt(bcrypt_runs):
    costly = openssh_key(MAX_KDF_ROUNDS + 1)
    bcrypt_runs.clear()  # writing the key ran bcrypt once
    for passphrase in (PASSPHRASE, None):  # refused even before a passphrase is asked for
        with pytest.raises(KdfTooExpensive) as caught:
            load_private_key(costly, passphrase)
        message = str(caught.value)
        assert f"{MAX_KDF_ROUNDS + 1} bcrypt rounds" in message
        assert f"at most {MAX_KDF_ROUNDS}" in message
        assert f"`ssh-keygen -p -a {MAX_KDF_ROUNDS} -f KEYFILE`" in message
        assert caught.value.rounds == MAX_KDF_ROUNDS + 1
    assert bcrypt_runs == []
    # Reading a key stored before the bound (max_kdf_rounds=None) still works.
    assert load_private_key(costly, PASSPHRASE, max_kdf_rounds=None).encrypted
    with pytest.raises(PassphraseRequired):
        load_private_key(openssh_key(MAX_KDF_ROUNDS))
    assert load_private_key(openssh_key(MAX_KDF_ROUNDS), PASSPHRASE).encrypted


def test_the_store_refuses_a_costly_key(store_for, vault_keys):
    store = store_for(vault_keys.a)
    with pytest.raises(KdfTooExpensive, match=f"{MAX_KDF_ROUNDS + 1} bcrypt rounds"):
        store.put(
            "slow", CredentialKind.PRIVATE_KEY, openssh_key(MAX_KDF_ROUNDS + 1),
            passphrase=PASSPHRASE,
        )  # fmt: skip
    assert store.list() == []


def test_a_key_is_decrypted_once_per_stored_version(store_for, vault_keys, bcrypt_runs):
    store = store_for(vault_keys.a, vault_keys.b)
    first, second = openssh_key(4), openssh_key(4)
    store.put("deploy", CredentialKind.PRIVATE_KEY, first, passphrase=PASSPHRASE)
    bcrypt_runs.clear()  # writing and storing (validating) the key ran bcrypt
    keys = [store.get("deploy").private_key() for _ in range(20)]
    assert bcrypt_runs == [4]  # 20 calls, one bcrypt run
    assert len({k.fingerprint for k in keys}) == 1

    # A new version (put --replace) is loaded afresh; so is the row after rotation.
    info = store.put("deploy", CredentialKind.PRIVATE_KEY, second, passphrase=PASSPHRASE)
    assert info.version == 2
    bcrypt_runs.pop()  # put validated it
    assert store.get("deploy").private_key().fingerprint == info.fingerprint != keys[0].fingerprint
    assert bcrypt_runs == [4, 4]
    rotated = store_for(vault_keys.b, vault_keys.a)
    rotated.keys = store.keys  # one process, one cache
    assert rotate(store.engine, rotated.keyring).rotated == 1
    assert rotated.get("deploy").private_key().fingerprint == info.fingerprint
    assert bcrypt_runs == [4, 4, 4]
    assert len(store.keys) == 1  # the older versions were dropped

    # Deleted and stored again under the same name: a new row, never the old key.
    assert store.delete("deploy") and len(store.keys) == 0
    third = store.put("deploy", CredentialKind.PRIVATE_KEY, first, passphrase=PASSPHRASE)
    bcrypt_runs.pop()
    assert store.get("deploy").private_key().fingerprint == third.fingerprint
    assert bcrypt_runs == [4, 4, 4, 4]


def test_concurrent_first_calls_decrypt_once(store_for, vault_keys, bcrypt_runs):
    store = store_for(vault_keys.a)
    store.put("deploy", CredentialKind.PRIVATE_KEY, openssh_key(8), passphrase=PASSPHRASE)
    bcrypt_runs.clear()
    credential = store.get("deploy")
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda: found.append(credential.private_key().fingerprint))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bcrypt_runs == [8] and len(set(found)) == 1 and len(found) == 8
    assert store.keys.loads == 1
    assert "KeyCache(1/" in repr(store.keys) and "PRIVATE" not in repr(store.keys)
