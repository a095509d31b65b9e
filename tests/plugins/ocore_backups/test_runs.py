"""Backup runs in this process against the real sshd: a tree backed up with tar and restored
byte for byte; every way a run can fail recorded as a failure that keeps earlier backups."""

from __future__ import annotations

import hashlib
import stat
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

import ocore_backups
from ocore_backups import AlreadyRunning, NotStored
from ocore_backups.testing import FullDisk, add_backup_server, make_tree, tree_snapshot
from ocore_flask.testing import JWT_SECRET, wait_for
from ocore_ssh.testing import Sshd, user_processes


def files_of(app: Flask, policy: str) -> list[str]:
    folder = Path(ocore_backups.backups(app).destination.describe()) / policy
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_tree_is_backed_up_and_restored_byte_for_byte(
    app: Flask, add_policy, remote_folder, sshd: Sshd, backup_key: str
) -> None:
    source = make_tree(remote_folder())
    target, elsewhere = remote_folder(), remote_folder()
    add_policy("files", f"tar -C {source} -cf - .", restore=f"tar -C {target} -xf -")
    service = ocore_backups.backups(app)

    run = service.run("files")

    assert run.status == "succeeded" and run.exit_status == 0 and run.error is None
    stored = Path(service.destination.describe()) / run.path
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == run.sha256
    assert stored.stat().st_size == run.size_bytes > 300_000
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.parent.parent.stat().st_mode) == 0o700
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary left

    restored = service.restore(run.id)
    assert restored.ok and restored.exit_status == 0 and restored.checksum_ok
    assert restored.bytes_sent == run.size_bytes
    assert tree_snapshot(target) == tree_snapshot(source)

    # --to another server: the policy's restore command (into ``target``) runs there
    add_backup_server(app, sshd, backup_key, name="db2")
    policy = service.policies.get("files")
    assert policy.server == "db1"
    service.policies.remove("files")
    add_policy("files2", f"tar -C {source} -cf - .", restore=f"tar -C {elsewhere} -xf -")
    again = service.run("files2")
    assert service.restore(again.id, server="db2").ok
    assert tree_snapshot(elsewhere) == tree_snapshot(source)


def test_a_failing_command_is_recorded_scrubbed_and_keeps_earlier_backups(
    app: Flask, add_policy, remote_folder
) -> None:
    flag = remote_folder() / "fail"
    add_policy(
        "flaky",
        f"if test -e {flag}; then echo 'partial output'; echo 'connecting' >&2; "
        f"echo 'login failed: password={JWT_SECRET}' >&2; exit 3; fi; echo good data",
    )
    service = ocore_backups.backups(app)
    first = service.run("flaky")
    assert first.status == "succeeded"
    before = files_of(app, "flaky")
    flag.write_text("")

    failed = service.run("flaky")

    assert failed.status == "failed" and failed.exit_status == 3
    assert failed.error == "the command exited with status 3"
    assert failed.stderr_line.startswith("login failed: password=")
    assert JWT_SECRET not in failed.stderr_line
    assert failed.path is None and failed.sha256 is None
    assert files_of(app, "flaky") == before  # the earlier backup is untouched, no temp left
    assert service.verify(first.id).ok


def test_a_stream_cut_mid_way_is_a_failure(app: Flask, add_policy) -> None:
    add_policy("cut", "head -c 3000000 /dev/urandom; kill -9 $$")
    run = ocore_backups.backups(app).run("cut")
    assert run.status == "failed" and run.exit_status is None
    assert "killed by a signal" in run.error
    assert files_of(app, "cut") == []


def test_a_command_that_prints_nothing_is_a_failure(app: Flask, add_policy) -> None:
    add_policy("silent", "echo 'nothing to dump' >&2")
    run = ocore_backups.backups(app).run("silent")
    assert run.status == "failed" and run.exit_status == 0
    assert run.error == "the command printed nothing: an empty backup is never valid"
    assert run.stderr_line == "nothing to dump"
    assert files_of(app, "silent") == []


def test_the_timeout_kills_the_remote_command(backups_app, sshd: Sshd, backup_key: str) -> None:
    app = backups_app(BACKUP_RUN_TIMEOUT="1s")
    add_backup_server(app, sshd, backup_key)
    service = ocore_backups.backups(app)
    service.add_policy(
        "slow",
        server="db1",
        command="echo started; echo working >&2; sleep 4646",
        restore_command="cat",
        schedule="@daily",
        max_age="1h",
        grace="0s",
    )
    started = time.monotonic()
    run = service.run("slow")
    assert time.monotonic() - started < 4
    assert run.status == "failed"
    assert run.error == "timed out after 1s (BACKUP_RUN_TIMEOUT): killed on the server"
    assert run.stderr_line == "working"
    assert wait_for(lambda: user_processes(sshd.user, "sleep 4646") == [], timeout=3)
    assert files_of(app, "slow") == []


def test_a_full_disk_is_a_failure_that_stops_the_command(
    app: Flask, add_policy, sshd: Sshd
) -> None:
    add_policy("big", "cat /dev/zero # backup-4747")
    service = ocore_backups.backups(app)
    service.destination = FullDisk(service.destination.describe(), limit=1_000_000)

    run = service.run("big")

    assert run.status == "failed"
    assert run.error == "writing the backup failed: No space left on device"
    assert files_of(app, "big") == []  # the temporary file is gone
    assert wait_for(lambda: user_processes(sshd.user, "backup-4747") == [], timeout=3)


def test_retention_prunes_only_older_backups_after_a_newer_success(
    app: Flask, add_policy, remote_folder
) -> None:
    flag = remote_folder() / "fail"
    add_policy("kept", f"test -e {flag} && exit 1; date +%s%N", keep_last=2)
    service = ocore_backups.backups(app)
    ids = [service.run("kept").id for _ in range(3)]
    assert len(files_of(app, "kept")) == 2
    runs = {run.id: run for run in service.runs.list("kept")}
    assert runs[ids[0]].pruned_at is not None and runs[ids[0]].status == "succeeded"
    assert [runs[i].pruned_at for i in ids[1:]] == [None, None]
    with pytest.raises(NotStored, match="pruned"):
        service.verify(ids[0])

    flag.write_text("")  # failures prune nothing
    assert service.run("kept").status == "failed"
    assert len(files_of(app, "kept")) == 2


def test_verify_detects_a_flipped_byte_and_restore_reports_it(
    app: Flask, add_policy, remote_folder
) -> None:
    add_policy("checked", "head -c 200000 /dev/urandom", restore="cat > /dev/null")
    service = ocore_backups.backups(app)
    run = service.run("checked")
    assert service.verify(run.id).ok
    stored = Path(service.destination.describe()) / run.path
    data = bytearray(stored.read_bytes())
    data[123_456] ^= 0x01
    stored.write_bytes(bytes(data))

    found = service.verify(run.id)

    assert not found.ok and found.error.startswith("checksum mismatch")
    assert service.runs.get(run.id).verify_error == found.error
    restored = service.restore(run.id)
    assert not restored.ok and restored.exit_status == 0 and not restored.checksum_ok
    assert restored.error.startswith("checksum mismatch")
    stored.unlink()
    assert "cannot read the stored file" in service.verify(run.id).error


def test_one_policy_never_runs_twice_at_once(app: Flask, add_policy) -> None:
    add_policy("single", "sleep 1; echo once")
    service = ocore_backups.backups(app)
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(service.run("single"))
        except AlreadyRunning as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = [o for o in outcomes if not isinstance(o, AlreadyRunning)]
    assert len(runs) == 1 and runs[0].status == "succeeded"
    assert sum(isinstance(o, AlreadyRunning) for o in outcomes) == 2


def test_a_run_left_running_by_a_dead_worker_is_failed_and_cleaned(app: Flask, add_policy) -> None:
    policy = add_policy("orphan", "echo fine")
    service = ocore_backups.backups(app)
    with service.engine.begin() as conn:
        lost = conn.execute(
            text(
                "INSERT INTO backup_runs (policy_id, trigger, status) "
                "VALUES (:p, 'schedule', 'running') RETURNING id"
            ),
            {"p": policy.id},
        ).scalar_one()
    temp = service.destination.open_temp("orphan")
    temp.write(b"half a backup")
    assert files_of(app, "orphan")[0].startswith(".tmp-")

    run = service.run("orphan")

    assert run.status == "succeeded"
    orphan = service.runs.get(lost)
    assert orphan.status == "failed" and orphan.error.startswith("interrupted")
    assert files_of(app, "orphan") == [Path(run.path).name]  # the stale temporary is gone


def test_a_restore_command_that_stops_reading_is_a_failed_restore(app: Flask, add_policy) -> None:
    add_policy("partial", "head -c 3000000 /dev/urandom", restore="head -c 10 > /dev/null")
    service = ocore_backups.backups(app)
    run = service.run("partial")
    restored = service.restore(run.id)
    assert restored.exit_status == 0 and not restored.ok
    assert restored.error.startswith("the restore command stopped reading after")
    assert restored.bytes_sent < run.size_bytes
