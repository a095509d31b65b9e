"""Key rotation: re-encrypt rows still on a previous key with the active key, batch by batch.

Each batch is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` takes up to ``batch_size``
rows on previous keys (keyset order by id, so one pass reads each row at most once), decrypts
and re-encrypts them in memory, and writes them back with a compare-and-swap on
(id, old key id, version). Hence:

- stoppable anywhere: a batch commits whole or not at all, and every row is always readable
  (old rows with a previous key, rotated rows with the active key);
- rerunnable: rows already on the active key are never selected again;
- concurrent runs split the rows between them (locked rows are skipped, not waited for);
- a concurrent ``put`` of a row either waits for the batch's lock and then overwrites the
  rotated value, or holds the lock first so rotation skips the row; the swap never
  overwrites a row whose version or key id moved since it was read.

Rows that fail to decrypt (tampered, copied) are reported by name and not retried in the same
run; rows on a key id no configured key has are left alone. Both stay in ``remaining``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from ocore_vault.crypto import KeyRing, Purpose, VaultError
from ocore_vault.schema import TABLE_NAME, credentials
from ocore_vault.store import SECRET_PURPOSE, CredentialKind, VerifyFailure, translate_errors

__all__ = ["DEFAULT_BATCH_SIZE", "RotationResult", "rotate"]

DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 10_000

t = credentials

# One round trip per batch: the swap joins the new values and the expected (key id, version).
_SWAP = text(
    f"""
    UPDATE {TABLE_NAME} AS c
       SET secret = v.secret, passphrase = v.passphrase, key_id = :active, version = c.version + 1
      FROM unnest(CAST(:ids AS uuid[]), CAST(:old_key_ids AS bytea[]), CAST(:versions AS bigint[]),
                  CAST(:secrets AS bytea[]), CAST(:passphrases AS bytea[]))
           AS v(id, old_key_id, version, secret, passphrase)
     WHERE c.id = v.id AND c.key_id = v.old_key_id AND c.version = v.version
    RETURNING c.id
    """
)


@dataclass
class RotationResult:
    """What a rotation run did; ``remaining`` counts rows still off the active key at the end."""

    active_key_id: str
    rotated: int = 0
    batches: int = 0
    skipped: int = 0  # changed by a concurrent writer between read and swap: theirs stands
    failures: list[VerifyFailure] = field(default_factory=list)
    remaining: int = 0
    stopped: bool = False  # max_batches reached before the pass ended
    elapsed: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every row is now on the active key."""
        return self.remaining == 0 and not self.failures

    @property
    def rows_per_second(self) -> float:
        """Throughput of this run."""
        return self.rotated / self.elapsed if self.elapsed > 0 else 0.0


def rotate(
    engine: Engine,
    keyring: KeyRing,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    max_batches: int | None = None,
    on_batch: Callable[[RotationResult], None] | None = None,
) -> RotationResult:
    """Re-encrypt every row on a previous key with the active key; see the module docstring."""
    if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
    started = time.perf_counter()
    result = RotationResult(keyring.active.key_id_hex)
    previous = [key.key_id for key in keyring.previous]
    last_id: Any = None
    with translate_errors():
        while previous:
            if max_batches is not None and result.batches >= max_batches:
                result.stopped = True
                break
            with engine.begin() as conn:
                done = _batch(conn, keyring, previous, last_id, batch_size, result)
            if done is None:
                break
            last_id = done
            result.batches += 1
            if on_batch is not None:
                on_batch(result)
        with engine.connect() as conn:
            result.remaining = conn.execute(
                select(func.count()).where(t.c.key_id != keyring.active.key_id)
            ).scalar_one()
    result.elapsed = time.perf_counter() - started
    return result


def _batch(
    conn: Connection,
    keyring: KeyRing,
    previous: list[bytes],
    after: Any,
    batch_size: int,
    result: RotationResult,
) -> Any:
    """Rotate one batch inside the caller's transaction; return the last id seen (None: done)."""
    query = (
        select(t.c.id, t.c.name, t.c.kind, t.c.key_id, t.c.version, t.c.secret, t.c.passphrase)
        .where(t.c.key_id.in_(previous))
        .order_by(t.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    if after is not None:
        query = query.where(t.c.id > after)
    rows = conn.execute(query).all()
    if not rows:
        return None
    ids, old_key_ids, versions, secrets, passphrases = [], [], [], [], []
    for row in rows:
        row_id = str(row.id)
        try:
            secret = keyring.reencrypt(
                row.secret,
                purpose=SECRET_PURPOSE[CredentialKind(row.kind)],
                table=TABLE_NAME,
                row_id=row_id,
            )
            passphrase = None
            if row.passphrase is not None:
                passphrase = keyring.reencrypt(
                    row.passphrase, purpose=Purpose.PASSPHRASE, table=TABLE_NAME, row_id=row_id
                )
        except VaultError as exc:
            result.failures.append(VerifyFailure(row.name, type(exc).__name__, str(exc)))
            continue
        ids.append(row_id)
        old_key_ids.append(bytes(row.key_id))
        versions.append(row.version)
        secrets.append(secret)
        passphrases.append(passphrase)
    if ids:
        swapped = conn.execute(
            _SWAP,
            {
                "active": keyring.active.key_id,
                "ids": ids,
                "old_key_ids": old_key_ids,
                "versions": versions,
                "secrets": secrets,
                "passphrases": passphrases,
            },
        ).all()
        result.rotated += len(swapped)
        result.skipped += len(ids) - len(swapped)
    return rows[-1].id
