"""Credential vault (issue 5): AES-GCM overhead of the vault format, and rotation throughput.

- crypto: encrypt+decrypt of a 3 KiB private key (RSA-4096, PKCS#8 PEM) through the vault's
  ``KeyRing`` (header, key-id lookup, associated data bound to purpose/table/row) against the
  raw ``AESGCM`` calls with the same derived key and an associated data of the same length,
  interleaved rounds, best round of each; the ratio is vault ops/s / raw ops/s (key derivation
  happens once, when the ring is built). "Same row" reads one credential again and again (the
  associated-data memo hits); "distinct rows" cycles through more rows than the memo holds.
  "Raw, nonce stored" is the least a storable AES-GCM value costs: nonce || ciphertext, sliced
  apart again to decrypt.
- rotate: ``rotate()`` re-encrypting 10,000 rows (8,000 passwords, 2,000 private keys of 3 KiB
  with a passphrase) from one key to another, in batches of 100 (the default) and 1,000;
  rows/s, and the share of the same re-encryption done in memory only.

    python benchmarks/vault_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
import uuid
from collections.abc import Callable

from common import Row, bench_main, postgres, progress, ratio, scaled
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, insert, text

from ocore_database import migrations
from ocore_vault.crypto import KeyRing, Purpose, VaultKey
from ocore_vault.rotate import rotate
from ocore_vault.schema import TABLE_NAME, credentials

BENCH = "vault"


def _secret() -> str:
    return secrets.token_urlsafe(48)


def _private_key_text() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _best_per_op(loops: dict[str, Callable[[], None]], ops: int, rounds: int) -> dict[str, float]:
    """Interleave the loops round by round; each one's fastest round, in seconds per op."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(rounds):
        for name, loop in loops.items():
            started = time.perf_counter()
            loop()
            best[name] = min(best[name], (time.perf_counter() - started) / ops)
    return best


def bench_crypto(args: argparse.Namespace) -> list[Row]:
    """Vault encrypt+decrypt against raw AESGCM, same key, same payload, same AD length."""
    ops = scaled(args, 2000, 300)
    rounds = scaled(args, 30, 5)
    payload = _private_key_text()
    progress(f"crypto: {len(payload)}-byte private key, {rounds} rounds x {ops} ops")
    ring = KeyRing(VaultKey.from_secret(_secret()))
    aead = ring.active._aead  # the very cipher object the vault uses: same derived key
    row_id = str(uuid.uuid4())
    many_rows = [str(uuid.uuid4()) for _ in range(5000)]  # more than the AD memo holds
    purpose, table = Purpose.PRIVATE_KEY, TABLE_NAME
    sample = ring.encrypt(payload, purpose=purpose, table=table, row_id=row_id)
    assert ring.decrypt(sample, purpose=purpose, table=table, row_id=row_id) == payload
    ad = _ad_of(ring, row_id)  # the raw calls bind the very same associated data
    assert aead.decrypt(sample[12:24], sample[24:], ad) == payload

    def vault_same_row() -> None:
        for _ in range(ops):
            blob = ring.encrypt(payload, purpose=purpose, table=table, row_id=row_id)
            ring.decrypt(blob, purpose=purpose, table=table, row_id=row_id)

    def vault_distinct_rows() -> None:
        for i in range(ops):
            rid = many_rows[i % len(many_rows)]
            blob = ring.encrypt(payload, purpose=purpose, table=table, row_id=rid)
            ring.decrypt(blob, purpose=purpose, table=table, row_id=rid)

    def raw_bare() -> None:
        for _ in range(ops):
            nonce = os.urandom(12)
            aead.decrypt(nonce, aead.encrypt(nonce, payload, ad), ad)

    def raw_stored() -> None:
        for _ in range(ops):
            nonce = os.urandom(12)
            blob = nonce + aead.encrypt(nonce, payload, ad)
            aead.decrypt(blob[:12], blob[12:], ad)

    best = _best_per_op(
        {
            "vault_same": vault_same_row,
            "vault_distinct": vault_distinct_rows,
            "raw": raw_bare,
            "raw_stored": raw_stored,
        },
        ops,
        rounds,
    )
    us = {name: seconds * 1e6 for name, seconds in best.items()}
    return [
        Row(
            BENCH,
            "3 KiB key encrypt+decrypt: vault / raw AESGCM, same row",
            round(ratio(us["raw"], us["vault_same"]), 3),
            "ratio",
            ">= 0.8",
        ),
        Row(
            BENCH,
            "3 KiB key encrypt+decrypt: vault / raw AESGCM, distinct rows",
            round(ratio(us["raw"], us["vault_distinct"]), 3),
            "ratio",
            ">= 0.8",
        ),
        Row(
            BENCH,
            "3 KiB key encrypt+decrypt: vault / raw AESGCM with nonce stored, same row",
            round(ratio(us["raw_stored"], us["vault_same"]), 3),
            "ratio",
        ),
        Row(BENCH, "vault encrypt+decrypt, same row", round(us["vault_same"], 2), "µs/op"),
        Row(BENCH, "vault encrypt+decrypt, distinct rows", round(us["vault_distinct"], 2), "µs/op"),
        Row(BENCH, "raw AESGCM encrypt+decrypt", round(us["raw"], 2), "µs/op"),
        Row(
            BENCH,
            "raw AESGCM, nonce stored with the ciphertext",
            round(us["raw_stored"], 2),
            "µs/op",
        ),
    ]


def _ad_of(ring: KeyRing, row_id: str) -> bytes:
    """The associated data the vault builds for this row, by the documented layout."""
    out = b"SV\x01\x01" + ring.active.key_id
    for part in (Purpose.PRIVATE_KEY.value, TABLE_NAME, row_id):
        out += len(part.encode()).to_bytes(4, "big") + part.encode()
    return out


def _seed(engine, ring: KeyRing, rows: int) -> list[tuple[str, bytes, bytes | None]]:
    """Insert ``rows`` credentials under the ring's active key; 1 in 5 a 3 KiB private key."""
    key_text = _private_key_text()
    batch, plain = [], []
    for i in range(rows):
        row_id = uuid.uuid4()
        site = {"table": TABLE_NAME, "row_id": str(row_id)}
        is_key = i % 5 == 0
        secret = key_text if is_key else secrets.token_urlsafe(18).encode()
        passphrase = secrets.token_urlsafe(12).encode() if is_key else None
        purpose = Purpose.PRIVATE_KEY if is_key else Purpose.PASSWORD
        batch.append(
            {
                "id": row_id,
                "name": f"bench-{i:06d}",
                "kind": "private_key" if is_key else "password",
                "username": "root",
                "fingerprint": "SHA256:bench" if is_key else None,
                "secret": ring.encrypt(secret, purpose=purpose, **site),
                "passphrase": None
                if passphrase is None
                else ring.encrypt(passphrase, purpose=Purpose.PASSPHRASE, **site),
                "key_id": ring.active.key_id,
                "version": 1,
            }
        )
        plain.append((str(row_id), batch[-1]["secret"], batch[-1]["passphrase"]))
        if len(batch) == 1000:
            with engine.begin() as conn:
                conn.execute(insert(credentials), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(credentials), batch)
    return plain


def _in_memory(ring: KeyRing, rows: list[tuple[str, bytes, bytes | None]]) -> float:
    """Seconds to re-encrypt the same values without the database (rotation's floor)."""
    started = time.perf_counter()
    for i, (row_id, secret, passphrase) in enumerate(rows):
        purpose = Purpose.PRIVATE_KEY if i % 5 == 0 else Purpose.PASSWORD
        ring.reencrypt(secret, purpose=purpose, table=TABLE_NAME, row_id=row_id)
        if passphrase is not None:
            ring.reencrypt(passphrase, purpose=Purpose.PASSPHRASE, table=TABLE_NAME, row_id=row_id)
    return time.perf_counter() - started


def bench_rotate(args: argparse.Namespace, admin_url: str) -> list[Row]:
    """rotate() throughput on a fresh database: key A -> B (batch 100), B -> A (batch 1000)."""
    import psycopg2

    from ocore_database import plugin as database_plugin
    from ocore_vault import plugin as vault_plugin

    count = scaled(args, 10_000, 1_000)
    name = f"vault_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    url = _with_database(admin_url, name)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    rows: list[Row] = []
    try:
        migrations.upgrade(engine, [database_plugin, vault_plugin])
        key_a, key_b = VaultKey.from_secret(_secret()), VaultKey.from_secret(_secret())
        progress(f"rotate: seeding {count} rows")
        seeded = _seed(engine, KeyRing(key_a), count)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE vault_credentials"))
        memory = _in_memory(KeyRing(key_b, [key_a]), seeded)
        for batch, ring in ((100, KeyRing(key_b, [key_a])), (1000, KeyRing(key_a, [key_b]))):
            progress(f"rotate: {count} rows, batch size {batch}")
            result = rotate(engine, ring, batch_size=batch)
            assert result.complete and result.rotated == count, result
            rows.append(
                Row(
                    BENCH,
                    f"rotate {count} rows, batch {batch}",
                    round(result.rows_per_second),
                    "rows/s",
                )
            )
            rows.append(
                Row(
                    BENCH,
                    f"rotate batch {batch} / same re-encryption in memory",
                    round(ratio(memory, result.elapsed), 3),
                    "ratio",
                )
            )
        rows.append(
            Row(BENCH, f"re-encrypt {count} rows in memory", round(count / memory), "rows/s")
        )
    finally:
        engine.dispose()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    return rows


def _with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def run(args: argparse.Namespace) -> list[Row]:
    """Both measurements; PostgreSQL from --database-url / TEST_DATABASE_URL or embedded."""
    rows = bench_crypto(args)
    with postgres(getattr(args, "database_url", None)) as url:
        rows += bench_rotate(args, url)
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
