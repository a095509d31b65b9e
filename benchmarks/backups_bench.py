"""Backups (issue 16): a 200 MB backup through the plugin vs OpenSSH's client doing the same copy.

A real OpenSSH sshd on 127.0.0.1 (``ocore_ssh.testing.Sshd``; needs root), a 200 MB file of
random bytes (incompressible) the test user can read, Ed25519 key authentication. Rounds of
the three copies are interleaved so machine noise hits them alike; the best round of each is
kept (3 rounds; 1 round of 20 MB with ``--quick``):

- plugin: ``backups().run(policy)`` with the command ``cat FILE``: the advisory lock and run
  rows, the stream over the pooled paramiko connection, SHA-256 and size as it goes, fsync of
  file and folder, the rename;
- stream only: ``ssh().stream(server, "cat FILE", stdout=file)`` into a file (no hash, no
  fsync, no rows): the SSH transport's share of the plugin's cost;
- OpenSSH: ``ssh -i KEY user@127.0.0.1 cat FILE > local`` (its default cipher, a new
  connection each time, no fsync).

    python benchmarks/backups_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import Row, app_env, bench_main, postgres, progress, ratio, scaled

import ocore_backups
import ocore_ssh
from ocore_backups.testing import add_backup_server, backups_plugins
from ocore_database.testing import cloned_database, migrate
from ocore_ssh.testing import Sshd, ed25519_openssh, ensure_test_environment, public_line

BENCH = "backups"
MB = 1_000_000
ROUNDS = 3


def _openssh(server: Sshd, key_file: Path, remote: Path, local: Path) -> None:
    argv = [
        "ssh", "-i", str(key_file), "-p", str(server.port), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", f"{server.user}@{server.host}", f"cat {remote}",
    ]  # fmt: skip
    with local.open("wb") as out:
        subprocess.run(argv, stdout=out, check=True, timeout=600)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> list[Row]:
    """The same bytes copied three ways, best of the interleaved rounds."""
    size = scaled(args, 200, 20) * MB
    rounds = scaled(args, ROUNDS, 1)
    ensure_test_environment()
    key = ed25519_openssh()
    scratch = Path(tempfile.mkdtemp(prefix="ocore-backups-bench-"))
    try:
        scratch.chmod(0o755)
        remote = scratch / "payload.bin"
        progress(f"backups: writing {size // MB} MB of random bytes")
        with remote.open("wb") as out:
            for _ in range(size // MB):
                out.write(os.urandom(MB))
        remote.chmod(0o644)
        key_file = scratch / "id_ed25519"
        key_file.write_text(key)
        key_file.chmod(0o600)
        with Sshd() as server, postgres(getattr(args, "database_url", None)) as pg:
            server.authorize(public_line(key))
            with cloned_database(pg) as url:
                migrate(url)
                rows = _measure(args, server, url, key, key_file, remote, scratch, size, rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _measure(
    args: argparse.Namespace,
    server: Sshd,
    url: str,
    key: str,
    key_file: Path,
    remote: Path,
    scratch: Path,
    size: int,
    rounds: int,
) -> list[Row]:
    from ocore_flask import close_app, create_app

    env = app_env(
        url,
        {
            "SSH_ENCRYPTION_KEY": "bench-vault-key-Qm7Rt2Wz9Kx4Lp8Vn3Hc6Bd1",
            "BACKUP_DIR": str(scratch / "backups"),
            "BACKUP_RUN_TIMEOUT": "10m",
            "LOG_LEVEL": "warning",
        },
    )
    app = create_app(env, backups_plugins())
    try:
        add_backup_server(app, server, key, name="bench")
        service = ocore_backups.backups(app)
        service.add_policy(
            "bench", server="bench", command=f"cat {remote}", restore_command="cat > /dev/null",
            schedule="@daily", max_age="24h", grace="1h",
        )  # fmt: skip
        local = scratch / "openssh.bin"
        streamed = scratch / "stream.bin"

        def plugin() -> None:
            done = service.run("bench")
            if done.status != "succeeded" or done.size_bytes != size:
                raise RuntimeError(f"the backup failed: {done.error}")
            service.destination.delete(done.path)  # keep the disk from filling up

        def stream_only() -> None:
            with streamed.open("wb") as out:
                result = ocore_ssh.ssh(app).stream("bench", f"cat {remote}", stdout=out)
            if not result.ok or result.bytes_out != size:
                raise RuntimeError("the stream failed")

        calls = {
            "plugin": plugin,
            "stream": stream_only,
            "openssh": lambda: _openssh(server, key_file, remote, local),
        }
        _openssh(server, key_file, remote, local)  # warm-up: page cache, sshd's first fork
        stream_only()
        best = dict.fromkeys(calls, float("inf"))
        for number in range(rounds):
            for label, call in calls.items():
                elapsed = _timed(call)
                best[label] = min(best[label], elapsed)
                progress(f"backups: round {number + 1}/{rounds}: {label} {elapsed:.2f} s")
        if local.stat().st_size != size:
            raise RuntimeError("OpenSSH copied a different number of bytes")
    finally:
        close_app(app)
    rate = {label: size / MB / seconds for label, seconds in best.items()}
    what = f"{size // MB} MB backup stream, sshd on 127.0.0.1"
    return [
        Row(BENCH, f"{what}: plugin (hash, fsync, rename, rows)", round(rate["plugin"], 1),
            "MB/s"),
        Row(BENCH, f"{what}: SSHService.stream into a file", round(rate["stream"], 1), "MB/s"),
        Row(BENCH, f"{what}: OpenSSH `ssh cat > file`", round(rate["openssh"], 1), "MB/s"),
        Row(BENCH, f"{what}: plugin / OpenSSH throughput", round(ratio(rate["plugin"],
            rate["openssh"]), 2), "ratio"),
        Row(BENCH, f"{what}: stream only / OpenSSH throughput", round(ratio(rate["stream"],
            rate["openssh"]), 2), "ratio"),
    ]  # fmt: skip


if __name__ == "__main__":
    bench_main(run, __doc__)
