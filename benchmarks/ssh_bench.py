"""SSH pool (issue 6): sequential `true` commands through the pool vs a fresh connection each.

A real OpenSSH sshd on 127.0.0.1 (``ocore_ssh.testing.Sshd``, the tests' kit; needs root for
``scripts/ensure-sshd.sh``), Ed25519 key authentication with an in-memory key, the host key
pinned up front. Rounds of the two loops are interleaved so machine noise hits both alike:

- pooled: one ``SSHPool`` for every command (its first command pays the only connect);
- fresh: a one-shot ``SSHPool`` per command: TCP connect, key exchange, authentication, the
  command, close (the same code path, only without reuse);
- service: the pooled loop through ``SSHService.run(name)``, which also reads the server row
  from PostgreSQL and decrypts the vault credential on every call.

Logins are counted from sshd's own log. 200 commands per loop (20 with ``--quick``).

    python benchmarks/ssh_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import paramiko
from common import Row, bench_main, median, postgres, progress, ratio, scaled
from sqlalchemy import create_engine

from ocore_database.testing import cloned_database, first_party_plugins
from ocore_ssh.pool import KeyAuth, SSHPool, SSHTarget
from ocore_ssh.testing import Sshd, ed25519_openssh, ensure_test_environment

BENCH = "ssh"
COMMAND = "true"
ROUNDS = 4


def _logins(server: Sshd) -> int:
    """Successful logins so far, from sshd's log (LogLevel VERBOSE)."""
    return server.log_path.read_text(errors="replace").count("Accepted publickey")


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(f"`{COMMAND}` exited with status {status}")


def _fresh(target: SSHTarget) -> None:
    """One command on a connection of its own: connect, authenticate, run, close."""
    with SSHPool(max_per_host=1) as one_shot:
        _check(one_shot.run(target, COMMAND).exit_status)


@contextlib.contextmanager
def _service(database_url: str, key_text: str, server: Sshd) -> Iterator[Any]:
    """An ``SSHService`` on a scratch database (migrated like production), server ``bench``."""
    from ocore_database import migrations
    from ocore_database.url import parse_database_url
    from ocore_ssh.service import SSHService
    from ocore_vault.crypto import KeyRing, VaultKey
    from ocore_vault.store import CredentialStore

    with cloned_database(database_url) as scratch:
        engine = create_engine(parse_database_url(scratch).sqlalchemy_url)
        try:
            migrations.upgrade(engine, first_party_plugins())
            keys = KeyRing(VaultKey.from_secret(secrets.token_urlsafe(48)))
            vault = CredentialStore(engine, keys)
            vault.put("bench-key", "private_key", key_text, username=server.user)
            service = SSHService(engine, vault)
            try:
                service.add(
                    "bench",
                    server.host,
                    port=server.port,
                    credential="bench-key",
                    host_key=server.host_public_keys["ed25519"],
                )
                yield service
            finally:
                service.close()
        finally:
            engine.dispose()


def run(args: argparse.Namespace) -> list[Row]:
    """Pooled vs fresh-connection command loops (and the service path) against a real sshd."""
    count = scaled(args, 200, 20)
    per_round = max(1, count // ROUNDS)
    ensure_test_environment()
    key_text = ed25519_openssh()
    pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(key_text))
    with Sshd() as server, postgres(getattr(args, "database_url", None)) as url:
        server.authorize(f"{pkey.get_name()} {pkey.get_base64()}")
        target = SSHTarget(
            name="bench",
            host=server.host,
            port=server.port,
            username=server.user,
            auth=KeyAuth(pkey),
            pinned_host_key=server.host_public_keys["ed25519"],
        )
        _fresh(target)  # warm-up: imports, crypto backends, sshd's first fork
        times: dict[str, list[float]] = {"pooled": [], "fresh": [], "service": []}
        logins = dict.fromkeys(times, 0)
        with SSHPool() as pool, _service(url, key_text, server) as service:
            loops: dict[str, Callable[[], None]] = {
                "pooled": lambda: _check(pool.run(target, COMMAND).exit_status),
                "fresh": lambda: _fresh(target),
                "service": lambda: _check(service.run("bench", COMMAND).exit_status),
            }
            for number in range(ROUNDS):
                progress(f"ssh: round {number + 1}/{ROUNDS}, {per_round} commands per loop")
                for label, call in loops.items():
                    before = _logins(server)
                    times[label] += [_timed(call) for _ in range(per_round)]
                    logins[label] += _logins(server) - before
            pooled_open = pool.stats()["open"]

    pooled_times, fresh_times, service_times = times["pooled"], times["fresh"], times["service"]
    pooled, fresh, via_service = sum(pooled_times), sum(fresh_times), sum(service_times)
    label = f"{len(pooled_times)} × `{COMMAND}`"
    return [
        Row(BENCH, f"{label}, pooled: total", round(pooled, 3), "s"),
        Row(BENCH, f"{label}, fresh connection each: total", round(fresh, 3), "s"),
        Row(BENCH, f"{label}: fresh / pooled", round(ratio(fresh, pooled), 1), "ratio", ">= 5"),
        Row(BENCH, "per command p50, pooled", _ms(median(pooled_times)), "ms"),
        Row(BENCH, "per command p50, fresh connection", _ms(median(fresh_times)), "ms"),
        Row(BENCH, "sshd logins, pooled", logins["pooled"], "count", "<= 1"),
        Row(BENCH, "sshd logins, fresh connection", logins["fresh"], "count"),
        Row(BENCH, "pooled connections open at the end", pooled_open, "count"),
        Row(BENCH, "per command p50, SSHService (row + vault)", _ms(median(service_times)), "ms"),
        Row(BENCH, f"{label}: SSHService / pool", round(ratio(via_service, pooled), 2), "ratio"),
        Row(BENCH, "sshd logins, SSHService", logins["service"], "count", "<= 1"),
    ]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


if __name__ == "__main__":
    bench_main(run, __doc__)
