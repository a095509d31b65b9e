"""SSH gateway (issue 15): the real OpenSSH client through ``ocore gateway`` vs straight to sshd.

One real sshd on 127.0.0.1 (``ocore_ssh.testing.Sshd``; needs root), one ``ocore gateway``
process (``ocore_gateway.testing.GatewayProcess``) on a scratch database migrated like
production. The same Ed25519 key logs in both ways: the client's key for the direct path, and,
stored in the vault, the gateway's credential for the server (so both paths do the same
public-key login at sshd). Measured:

- throughput: 100 MB down (``head -c`` on the server to the client) and up (``cat >
  /dev/null``), gateway time / direct time (the gateway adds a second encrypted hop and Python);
- session setup: ``ssh HOST true`` end to end (TCP, key exchange, login, command, close), median
  of N, gateway / direct;
- memory per idle session: the gateway process's RSS growth with N ``sleep`` sessions open.

    python benchmarks/gateway_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import Row, bench_main, median, postgres, progress, ratio, scaled
from sqlalchemy import text

from ocore_database.testing import cloned_database, migrate
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, base_env, free_port
from ocore_gateway.testing import VAULT_KEY, GatewayProcess, gateway_plugins, keygen
from ocore_ssh.testing import Sshd, ensure_test_environment

BENCH = "gateway"
MB = 1024 * 1024
# What both of the gateway's hops negotiate (asyncssh here has no post-quantum hybrid KEX);
# OpenSSH's client and server prefer sntrup761x25519, which costs ~0.1 s per login on this CPU.
CURVE = "curve25519-sha256"


def _env(database_url: str, port: int) -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "LOG_LEVEL": "warning",
        "DATABASE_URL": database_url,
        "SSH_ENCRYPTION_KEY": VAULT_KEY,
        "SSH_GATEWAY_ENABLED": "true",
        "SSH_LISTEN_ADDR": f"127.0.0.1:{port}",
        "SSH_GATEWAY_IDLE_TIMEOUT": "0",
        "SSH_GATEWAY_MAX_SESSIONS_PER_USER": "1000",
        "SSH_GATEWAY_MAX_SESSIONS": "1000",
    }


@contextlib.contextmanager
def _setup(database_url: str, folder: Path) -> Iterator[tuple[GatewayProcess, Sshd, Any, Any]]:
    """sshd, a scratch database with user, key and server, and the running gateway."""
    import ocore_gateway
    import ocore_ssh
    import ocore_vault
    from ocore_auth.testing import create_user
    from ocore_flask.app import close_app, create_app

    with Sshd() as sshd, cloned_database(database_url) as scratch:
        migrate(scratch)
        env = _env(scratch, free_port())
        app = create_app(dict(env), gateway_plugins())
        try:
            key = keygen(folder, "bench")
            sshd.authorize(key.public_line)
            create_user(app, "bench@example.com", "admin")
            ocore_gateway.gateway(app).add_key("bench@example.com", key.public_line)
            vault = ocore_vault.credentials(app)
            vault.put("bench-key", "private_key", key.path.read_text(), username=sshd.user)
            ocore_ssh.ssh(app).add(
                "bench",
                sshd.host,
                port=sshd.port,
                credential="bench-key",
                host_key=sshd.host_public_keys["ed25519"],
            )
            info = ocore_gateway.gateway(app).host_keys.ensure()
            gateway = GatewayProcess(env, info.public_key, folder)
            gateway.start()
            try:
                yield gateway, sshd, key, app
            finally:
                gateway.stop()
        finally:
            close_app(app)


def _direct_argv(
    gateway: GatewayProcess, sshd: Sshd, key: Any, folder: Path, command: str, extra: list[str]
) -> list[str]:
    """ssh straight to sshd with the same options (its own known_hosts) plus ``extra``."""
    known = folder / "direct_known_hosts"
    known.write_text(f"[{sshd.host}]:{sshd.port} {sshd.host_public_keys['ed25519']}\n")
    options = gateway.ssh_options(key)
    options[options.index(f"UserKnownHostsFile={gateway.known_hosts}")] = (
        f"UserKnownHostsFile={known}"
    )
    return ["ssh", "-p", str(sshd.port), *options, *extra, f"{sshd.user}@{sshd.host}", command]


def _timed(argv: list[str], stdin: Any = subprocess.DEVNULL) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=base_env(),
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[-1]!r} failed ({done.returncode}): {done.stderr[-300:]!r}")
    return elapsed


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _open_sessions(app: Any) -> int:
    import ocore_database

    with ocore_database.engine(app).connect() as conn:
        query = "SELECT count(*) FROM gateway_sessions WHERE ended_at IS NULL"
        return int(conn.execute(text(query)).scalar_one())


def run(args: argparse.Namespace) -> list[Row]:
    """Throughput, setup time and idle-session memory, gateway vs direct."""
    size = scaled(args, 100, 10) * MB
    setups = scaled(args, 20, 5)
    idle = scaled(args, 50, 10)
    ensure_test_environment()
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="ocore-gw-bench-") as tmp,
        postgres(getattr(args, "database_url", None)) as url,
    ):
        folder = Path(tmp)
        payload = folder / "payload.bin"
        with payload.open("wb") as fh:
            fh.truncate(size)  # zeros; no compression is negotiated, so content does not matter
        with _setup(url, folder) as (gateway, sshd, key, app):

            def via(command: str) -> list[str]:
                return gateway.ssh_argv(key, "bench", command)

            def direct(command: str, *extra: str) -> list[str]:
                return _direct_argv(gateway, sshd, key, folder, command, list(extra))

            _timed(via("true")), _timed(direct("true"))  # warm-up
            mb = size // MB
            down_cmd = f"head -c {size} /dev/zero"
            progress(f"gateway: {mb} MB down and up, both paths")
            down = {"gateway": _timed(via(down_cmd)), "direct": _timed(direct(down_cmd))}
            with payload.open("rb") as fh:
                up_gw = _timed(via("cat > /dev/null"), stdin=fh)
            with payload.open("rb") as fh:
                up_direct = _timed(direct("cat > /dev/null"), stdin=fh)
            progress(f"gateway: {setups} × `ssh true`, both paths, interleaved")
            setup: dict[str, list[float]] = {"gateway": [], "direct": [], "curve": []}
            curve = ["-o", f"KexAlgorithms={CURVE}"]
            for _ in range(setups):
                setup["gateway"].append(_timed(via("true")))
                setup["direct"].append(_timed(direct("true")))
                setup["curve"].append(_timed(direct("true", *curve)))
            progress(f"gateway: {idle} idle sessions")
            assert gateway.proc is not None
            before = _rss_kib(gateway.proc.pid)
            held = [
                subprocess.Popen(
                    via("sleep 120"),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(idle)
            ]
            try:
                deadline = time.monotonic() + 120
                while _open_sessions(app) < idle and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1)
                after = _rss_kib(gateway.proc.pid)
            finally:
                for proc in held:
                    proc.terminate()
                for proc in held:
                    proc.wait(30)
    rows += [
        Row(BENCH, f"{mb} MB down, direct ssh", round(mb / down["direct"], 1), "MB/s"),
        Row(BENCH, f"{mb} MB down, through the gateway", round(mb / down["gateway"], 1), "MB/s"),
        Row(
            BENCH,
            f"{mb} MB down: gateway time / direct",
            round(ratio(down["gateway"], down["direct"]), 2),
            "ratio",
        ),
        Row(BENCH, f"{mb} MB up, direct ssh", round(mb / up_direct, 1), "MB/s"),
        Row(BENCH, f"{mb} MB up, through the gateway", round(mb / up_gw, 1), "MB/s"),
        Row(
            BENCH, f"{mb} MB up: gateway time / direct", round(ratio(up_gw, up_direct), 2), "ratio"
        ),
        Row(
            BENCH,
            "session setup `ssh true` p50, direct",
            round(median(setup["direct"]) * 1000, 1),
            "ms",
        ),
        Row(
            BENCH,
            "session setup `ssh true` p50, gateway",
            round(median(setup["gateway"]) * 1000, 1),
            "ms",
        ),
        Row(
            BENCH,
            f"session setup `ssh true` p50, direct with {CURVE} KEX",
            round(median(setup["curve"]) * 1000, 1),
            "ms",
        ),
        Row(
            BENCH,
            f"session setup: gateway / direct with {CURVE}",
            round(ratio(median(setup["gateway"]), median(setup["curve"])), 2),
            "ratio",
        ),
        Row(
            BENCH,
            "session setup: gateway / direct",
            round(ratio(median(setup["gateway"]), median(setup["direct"])), 2),
            "ratio",
        ),
        Row(BENCH, "gateway RSS with 0 sessions", round(before / 1024, 1), "MiB"),
        Row(
            BENCH,
            f"gateway RSS growth per idle session ({idle} open)",
            round((after - before) / idle, 1),
            "KiB",
        ),
    ]
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
