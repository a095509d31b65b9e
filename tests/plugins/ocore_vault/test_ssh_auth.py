"""Credentials from the vault log in to a real OpenSSH sshd on 127.0.0.1 (paramiko, from
memory; no agent, no key files, the server's host key pinned)."""

from __future__ import annotations

import os

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ocore_ssh.testing import Sshd, ed25519_openssh
from ocore_vault.rotate import rotate
from ocore_vault.store import CredentialKind, CredentialStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the test sshd needs root")


def public_line(pkey: paramiko.PKey) -> str:
    return f"{pkey.get_name()} {pkey.get_base64()}"


def login(server: Sshd, **auth) -> str:
    """Connect with only the given credential and return `whoami` from the server."""
    client = paramiko.SSHClient()
    for line in server.host_public_keys.values():
        kind, data = line.split()
        client.get_host_keys().add(
            f"[{server.host}]:{server.port}",
            kind,
            paramiko.PKey.from_type_string(kind, __import__("base64").b64decode(data)),
        )
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            server.host,
            port=server.port,
            username=server.user,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            **auth,
        )
        _, stdout, _ = client.exec_command("whoami", timeout=10)
        return stdout.read().decode().strip()
    finally:
        client.close()


def pem(key, fmt, passphrase: str | None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def test_stored_private_keys_authenticate(sshd: Sshd, store_for, engine, vault_keys):
    keys = {
        "ed25519-openssh": (ed25519_openssh(vault_keys.passphrase), vault_keys.passphrase),
        "rsa-pem": (
            pem(
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                serialization.PrivateFormat.TraditionalOpenSSL,
                vault_keys.passphrase,
            ),
            vault_keys.passphrase,
        ),
        "ecdsa-pkcs8": (
            pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8, None),
            None,
        ),
    }
    store = store_for(vault_keys.a)
    for name, (text, passphrase) in keys.items():
        store.put(name, CredentialKind.PRIVATE_KEY, text, username=sshd.user, passphrase=passphrase)
        sshd.authorize(public_line(store.private_key(name)))

    # After a rotation to key B, with key A gone, the keys still log in.
    assert rotate(engine, vault_keys.ring(vault_keys.b, vault_keys.a)).complete
    rotated = CredentialStore(engine, vault_keys.ring(vault_keys.b))
    for name in keys:
        pkey = rotated.private_key(name)
        assert pkey.fingerprint == rotated.get(name).fingerprint
        assert login(sshd, pkey=pkey) == sshd.user


def test_stored_password_authenticates_and_a_wrong_one_does_not(sshd: Sshd, store_for, vault_keys):
    store = store_for(vault_keys.a)
    store.put("pw", CredentialKind.PASSWORD, sshd.password, username=sshd.user)
    assert login(sshd, password=store.get("pw").secret()) == sshd.user
    store.put("pw", CredentialKind.PASSWORD, "not-the-password-1")
    with pytest.raises(paramiko.AuthenticationException):
        login(sshd, password=store.get("pw").secret())
