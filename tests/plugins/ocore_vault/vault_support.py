"""Helpers for the vault tests: test-only keys, key rings, generated SSH keys, fast seeding."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, insert, select

from ocore_vault.crypto import KeyRing, Purpose, VaultKey
from ocore_vault.schema import TABLE_NAME, credentials

# Test-only vault keys (>= 32 characters, high entropy), recognisable when grepping output.
KEY_A = "vault-key-A-Xq7Lp2Rm9Tz4Wc8Ns1Vb6Hd3Jf5"
KEY_B = "vault-key-B-Gk2Yh8Pn5Ue3Ma7Qr9Sd4Lw1Zx6"
KEY_C = "vault-key-C-Bt6Fn1Kc8Rv3Hx9Wm2Pq5Jd7Ly4"
PASSPHRASE = "passphrase-Ov5Tr8Ni2Qa"


def ring(active: str, *previous: str) -> KeyRing:
    """A key ring from SSH_ENCRYPTION_KEY-style secrets."""
    return KeyRing(VaultKey.from_secret(active), [VaultKey.from_secret(p) for p in previous])


def key_id(secret: str) -> str:
    """The hex key id a secret derives."""
    return VaultKey.from_secret(secret).key_id_hex


def body_lines(key_text: str) -> list[str]:
    """The base64 lines of a key, for asserting they never appear in output."""
    return [line for line in key_text.splitlines() if line and not line.startswith("-----")]


def seed_passwords(engine: Engine, keys: KeyRing, count: int, prefix: str = "host") -> dict:
    """Insert ``count`` password rows encrypted with ``keys.active`` in one statement."""
    rows, expected = [], {}
    for i in range(count):
        row_id = uuid.uuid4()
        name = f"{prefix}-{i:05d}"
        password = f"pw-{i}-{uuid.uuid4().hex[:8]}"
        expected[name] = password
        rows.append(
            {
                "id": row_id,
                "name": name,
                "kind": "password",
                "username": "root",
                "secret": keys.encrypt(
                    password.encode(),
                    purpose=Purpose.PASSWORD,
                    table=TABLE_NAME,
                    row_id=str(row_id),
                ),
                "key_id": keys.active.key_id,
                "version": 1,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(credentials), rows)
    return expected


def key_ids_in_table(engine: Engine) -> dict[str, int]:
    """Rows per key id (hex), straight from the table."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for (value,) in conn.execute(select(credentials.c.key_id)):
            counts[bytes(value).hex()] = counts.get(bytes(value).hex(), 0) + 1
    return counts
