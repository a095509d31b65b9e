"""Key rotation against real PostgreSQL: batches, interruption, reruns, concurrency, CAS."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import Engine, insert, select, update

from ocore_ssh.testing import ed25519_openssh
from ocore_vault.crypto import KeyRing, Purpose
from ocore_vault.rotate import _SWAP, rotate
from ocore_vault.schema import TABLE_NAME
from ocore_vault.schema import credentials as t
from ocore_vault.store import CredentialKind


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
        conn.execute(insert(t), rows)
    return expected


def key_ids_in_table(engine: Engine) -> dict[str, int]:
    """Rows per key id (hex), straight from the table."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for (value,) in conn.execute(select(t.c.key_id)):
            counts[bytes(value).hex()] = counts.get(bytes(value).hex(), 0) + 1
    return counts


def assert_all_readable(store, expected: dict[str, str], rows: int | None = None) -> None:
    result = store.verify()
    assert result.ok, result.failures
    assert result.checked == (len(expected) if rows is None else rows)
    for name, password in expected.items():
        assert store.get(name).secret() == password


def test_rotation_moves_every_row_including_passphrases(engine, store_for, vault_keys):
    expected = seed_passwords(engine, vault_keys.ring(vault_keys.a), 23)
    old = store_for(vault_keys.a)
    old.put(
        "key",
        CredentialKind.PRIVATE_KEY,
        ed25519_openssh(vault_keys.passphrase),
        passphrase=vault_keys.passphrase,
    )

    new = store_for(vault_keys.b, vault_keys.a)
    result = rotate(engine, new.keyring, batch_size=5)
    assert (result.rotated, result.batches, result.skipped, result.remaining) == (24, 5, 0, 0)
    assert result.complete and not result.failures and not result.stopped
    assert key_ids_in_table(engine) == {vault_keys.key_id(vault_keys.b): 24}

    # Key A can go now: key B alone reads everything, passphrase included.
    only_b = store_for(vault_keys.b)
    assert_all_readable(only_b, expected, rows=24)
    assert only_b.get("key").passphrase() == vault_keys.passphrase
    assert only_b.private_key("key").get_name() == "ssh-ed25519"
    # Rotation bumps the row version (so a stale compare-and-swap cannot match again).
    with engine.connect() as conn:
        assert set(conn.execute(select(t.c.version)).scalars()) == {2}

    again = rotate(engine, only_b.keyring, batch_size=5)
    assert (again.rotated, again.batches, again.remaining) == (0, 0, 0)


def test_interrupted_rotation_leaves_rows_readable_and_a_rerun_finishes(
    engine, store_for, vault_keys
):
    expected = seed_passwords(engine, vault_keys.ring(vault_keys.a), 40)
    both = store_for(vault_keys.b, vault_keys.a)

    stopped = rotate(engine, both.keyring, batch_size=6, max_batches=3)
    assert stopped.stopped and stopped.rotated == 18 and stopped.remaining == 22
    assert key_ids_in_table(engine) == {
        vault_keys.key_id(vault_keys.b): 18,
        vault_keys.key_id(vault_keys.a): 22,
    }
    assert_all_readable(both, expected)

    # A crash after some committed batches (Ctrl-C in the progress callback).
    def interrupt(progress):
        if progress.batches == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate(engine, both.keyring, batch_size=6, on_batch=interrupt)
    assert key_ids_in_table(engine) == {
        vault_keys.key_id(vault_keys.b): 30,
        vault_keys.key_id(vault_keys.a): 10,
    }
    assert_all_readable(both, expected)

    finished = rotate(engine, both.keyring, batch_size=6)
    assert finished.complete and finished.rotated == 10
    assert_all_readable(store_for(vault_keys.b), expected)


def test_two_rotations_at_once_split_the_work(engine, store_for, vault_keys):
    expected = seed_passwords(engine, vault_keys.ring(vault_keys.a), 300)
    keys = vault_keys.ring(vault_keys.b, vault_keys.a)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(
                rotate(engine, keys, batch_size=10, on_batch=lambda _: time.sleep(0.003))
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sum(r.rotated for r in results) == 300
    assert all(r.rotated > 0 and not r.failures for r in results)
    assert key_ids_in_table(engine) == {vault_keys.key_id(vault_keys.b): 300}
    assert_all_readable(store_for(vault_keys.b), expected)


def test_a_concurrent_put_during_rotation_is_never_lost(engine, store_for, vault_keys):
    expected = seed_passwords(engine, vault_keys.ring(vault_keys.a), 250)
    keys = vault_keys.ring(vault_keys.b, vault_keys.a)
    writer = store_for(vault_keys.b, vault_keys.a)
    names = random.Random(5).sample(sorted(expected), 60)
    done = threading.Event()
    results = []

    def run() -> None:
        results.append(rotate(engine, keys, batch_size=4, on_batch=lambda _: time.sleep(0.001)))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    for number, name in enumerate(names):
        expected[name] = f"updated-during-rotation-{number}"
        writer.put(name, CredentialKind.PASSWORD, expected[name], username="admin")
    thread.join(30)
    assert done.is_set()
    assert results[0].rotated + results[0].skipped <= 250 and not results[0].failures
    # Rows a put rewrote after rotation read them are skipped by the swap; either way every
    # row is on the active key and holds the newest value.
    assert key_ids_in_table(engine) == {vault_keys.key_id(vault_keys.b): 250}
    assert_all_readable(store_for(vault_keys.b), expected)
    with engine.connect() as conn:
        users = dict(conn.execute(select(t.c.name, t.c.username).where(t.c.name.in_(names))).all())
    assert set(users.values()) == {"admin"}


def test_compare_and_swap_refuses_a_row_changed_since_it_was_read(engine, store_for, vault_keys):
    seed_passwords(engine, vault_keys.ring(vault_keys.a), 2, prefix="cas")
    keys = vault_keys.ring(vault_keys.b, vault_keys.a)
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.name)).all()
    # Rotation read both rows (version 1, key A) and re-encrypted them; then a put rewrote one.
    new_values = [
        keys.reencrypt(row.secret, purpose=Purpose.PASSWORD, table=TABLE_NAME, row_id=str(row.id))
        for row in rows
    ]
    store_for(vault_keys.b, vault_keys.a).put(
        "cas-00000", CredentialKind.PASSWORD, "written-by-put-77"
    )
    with engine.begin() as conn:
        swapped = conn.execute(
            _SWAP,
            {
                "active": keys.active.key_id,
                "ids": [str(row.id) for row in rows],
                "old_key_ids": [bytes(row.key_id) for row in rows],
                "versions": [row.version for row in rows],
                "secrets": new_values,
                "passphrases": [None, None],
            },
        ).all()
    assert [r.id for r in swapped] == [rows[1].id]
    assert store_for(vault_keys.b).get("cas-00000").secret() == "written-by-put-77"


def test_unreadable_and_unknown_rows_are_reported_not_retried(engine, store_for, vault_keys):
    expected = seed_passwords(engine, vault_keys.ring(vault_keys.a), 10)
    seed_passwords(engine, vault_keys.ring(vault_keys.c), 3, prefix="foreign")
    with engine.begin() as conn:
        stolen = conn.execute(select(t.c.secret).where(t.c.name == "host-00001")).scalar_one()
        conn.execute(update(t).where(t.c.name == "host-00002").values(secret=stolen))
    result = rotate(engine, vault_keys.ring(vault_keys.b, vault_keys.a), batch_size=3)
    assert [(f.name, f.error) for f in result.failures] == [("host-00002", "IntegrityError")]
    assert result.rotated == 9 and result.remaining == 4 and not result.complete
    del expected["host-00002"]
    for name, password in expected.items():
        assert store_for(vault_keys.b).get(name).secret() == password
    rerun = rotate(engine, vault_keys.ring(vault_keys.b, vault_keys.a), batch_size=3)
    assert rerun.rotated == 0 and rerun.remaining == 4 and len(rerun.failures) == 1


def test_nothing_to_do_without_previous_keys(engine, vault_keys):
    seed_passwords(engine, vault_keys.ring(vault_keys.a), 3)
    result = rotate(engine, vault_keys.ring(vault_keys.a))
    assert (result.rotated, result.batches, result.remaining) == (0, 0, 0)
    with pytest.raises(ValueError, match="batch_size"):
        rotate(engine, vault_keys.ring(vault_keys.a), batch_size=0)
