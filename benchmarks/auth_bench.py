"""Auth (issue 12): what the guard and a login cost, as ratios measured side by side.

- guard: ``GET`` of a route guarded by ``require()`` with a valid bearer access token against
  the same route unguarded (identical body, ``auth_app.py``), on one real server (gunicorn
  gthread, 1 worker x 4 threads, the bundled config) serving ``auth_wsgi:app``; ``wrk`` for a
  fixed duration when installed, else the benchmarks' own client for a fixed count; rounds
  interleaved, medians over rounds;
- login: ``POST /api/auth/login`` on the same server, one client, against a bare
  ``hasher().verify`` with the same Argon2id parameters in this process; interleaved, medians.

    python benchmarks/auth_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from auth_app import BODY, GUARDED_PATH, OPEN_PATH
from common import (
    Row,
    app_env,
    bench_main,
    bench_server,
    gunicorn_argv,
    http_load,
    median,
    postgres,
    progress,
    ratio,
    run_command,
    scaled,
)

from ocore_auth.passwords import MEMORY_KIB, PARALLELISM, TIME_COST, hash_password, hasher
from ocore_flask.testing import HOST, free_port, script
from ocore_flask.testing import run as run_process

BENCH = "auth"
THREADS = 4
CONNECTIONS = 8
EMAIL = "bench@example.com"
PASSWORD = "bench-Password-5Kx8"  # benchmark-only


@dataclass
class Sample:
    """One load run: successful requests per second, latency percentiles in ms, failures."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_ERRORS = re.compile(r"(?:Non-2xx or 3xx responses|Socket errors):\s*(.+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(port: int, path: str, headers: dict[str, str], seconds: int) -> Sample:
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://{HOST}:{port}{path}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    rps = _WRK_RPS.search(done.stdout)
    pct = {p: float(v) * _UNIT[u] for p, v, u in _WRK_PCT.findall(done.stdout)}
    if rps is None or set(pct) != {"50", "99"}:
        raise RuntimeError("unreadable wrk output")  # not printed: the command holds a token
    errors = sum(
        int(n) for line in _WRK_ERRORS.findall(done.stdout) for n in re.findall(r"\d+", line)
    )
    return Sample(float(rps.group(1)), pct["50"], pct["99"], errors)


def _load(port: int, path: str, headers: dict[str, str], seconds: int, requests: int) -> Sample:
    if shutil.which("wrk"):
        return _wrk(port, path, headers, seconds)
    result = http_load(port, path, requests=requests, concurrency=CONNECTIONS, headers=headers)
    return Sample(result.rps, result.p50_ms, result.p99_ms, result.errors)


def _ensure_user(env: dict[str, str]) -> None:
    """The benchmark's user, enabled, with the benchmark's password (also on a database a
    previous run left it in, disabled)."""
    ocore = script("ocore")
    line = f"{PASSWORD}\n"  # the CLI reads the password as one line from a pipe
    added = run_process([ocore, "users", "add", EMAIL, "--role", "viewer"], env, stdin=line)
    if added.returncode == 0:
        return
    if "already exists" not in added.stderr:
        raise RuntimeError(f"ocore users add failed: {added.stderr.strip()}")
    for argv, stdin in (
        ([ocore, "users", "passwd", EMAIL], line),
        ([ocore, "users", "enable", EMAIL], None),
    ):
        done = run_process(argv, env, stdin=stdin)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[1:3])} failed: {done.stderr.strip()}")


def _post_login(port: int) -> tuple[int, dict, float]:
    """One ``POST /api/auth/login`` on a fresh connection: (status, body, seconds)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    payload = json.dumps({"email": EMAIL, "password": PASSWORD})
    try:
        conn.connect()
        started = time.perf_counter()
        conn.request("POST", "/api/auth/login", payload, {"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        return response.status, json.loads(body or b"{}"), elapsed
    finally:
        conn.close()


def _check_routes(port: int, token: str) -> None:
    """Both routes answer the same body; the guarded one refuses a request without a token."""
    for path, headers, status in (
        (OPEN_PATH, {}, 200),
        (GUARDED_PATH, {"Authorization": f"Bearer {token}"}, 200),
        (GUARDED_PATH, {}, 401),
    ):
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != status or (status == 200 and body != BODY):
            raise RuntimeError(f"GET {path}: {response.status}, expected {status}")


def run(args: argparse.Namespace) -> list[Row]:
    """The guard and login measurements, on ``args.database_url`` or an embedded PostgreSQL."""
    rounds = scaled(args, 5, 2)
    seconds = scaled(args, 5, 2)
    requests = scaled(args, 4_000, 1_000)
    logins = scaled(args, 10, 3)  # per round
    with postgres(getattr(args, "database_url", None)) as url:
        env = app_env(url, {"WEB_CONCURRENCY": "1", "SERVER_THREADS": str(THREADS)})
        migrated = run_command([script("ocore"), "db", "upgrade"], env)
        if migrated.returncode != 0:
            raise RuntimeError(f"ocore db upgrade failed:\n{migrated.stderr}")
        _ensure_user(env)
        port = free_port()
        argv = gunicorn_argv("auth_wsgi:app", port, 1, THREADS)
        progress("auth: starting gunicorn auth_wsgi:app")
        with bench_server("gunicorn auth_wsgi:app", argv, env, port):
            status, tokens, _ = _post_login(port)
            if status != 200:
                raise RuntimeError(f"login failed: HTTP {status}")
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            _check_routes(port, tokens["access_token"])
            cases = {"unguarded": (OPEN_PATH, {}), "guarded": (GUARDED_PATH, bearer)}
            for path, headers in cases.values():  # warm both before measuring
                _load(port, path, headers, 1, 500)
            samples: dict[str, list[Sample]] = {name: [] for name in cases}
            login_s: list[float] = []
            verify_s: list[float] = []
            login_failures = 0
            stored = hash_password(PASSWORD)  # the same parameters the server uses
            for _ in range(rounds):  # interleaved: drift and neighbours hit both alike
                for name, (path, headers) in cases.items():
                    sample = _load(port, path, headers, seconds, requests)
                    samples[name].append(sample)
                    progress(
                        f"auth {name}: {sample.rps:,.0f} req/s, p50 {sample.p50_ms:.2f} ms, "
                        f"p99 {sample.p99_ms:.2f} ms, errors {sample.errors}"
                    )
                for _ in range(logins):
                    status, _, elapsed = _post_login(port)
                    if status == 200:
                        login_s.append(elapsed)
                    else:
                        login_failures += 1
                    started = time.perf_counter()
                    hasher().verify(stored, PASSWORD)
                    verify_s.append(time.perf_counter() - started)
                progress(
                    f"auth login: p50 {median(login_s) * 1000:.1f} ms, bare Argon2 verify "
                    f"{median(verify_s) * 1000:.1f} ms"
                )
            run_command([script("ocore"), "users", "disable", EMAIL], env)  # no usable leftover
    return _rows(samples, rounds, login_s, verify_s, login_failures)


def _rows(
    samples: dict[str, list[Sample]],
    rounds: int,
    login_s: list[float],
    verify_s: list[float],
    login_failures: int,
) -> list[Row]:
    rps = {n: median([s.rps for s in ss]) for n, ss in samples.items()}
    p50 = {n: median([s.p50_ms for s in ss]) for n, ss in samples.items()}
    p99 = {n: median([s.p99_ms for s in ss]) for n, ss in samples.items()}
    tool = "wrk -t1 -c8" if shutil.which("wrk") else f"{CONNECTIONS} keep-alive clients"
    setup = (
        f"gunicorn gthread 1 worker x {THREADS} threads, {tool}, median of {rounds} rounds; "
        f"Argon2id m={MEMORY_KIB} KiB, t={TIME_COST}, p={PARALLELISM}"
    )
    rows = [Row(BENCH, "setup", setup, "info")]
    for name in samples:
        rows += [
            Row(BENCH, f"{name}: throughput", round(rps[name]), "req/s"),
            Row(BENCH, f"{name}: p50", p50[name], "ms"),
            Row(BENCH, f"{name}: p99", p99[name], "ms"),
        ]
    rows += [
        Row(BENCH, "guarded / unguarded request cost (inverse throughput)",
            ratio(rps["unguarded"], rps["guarded"]), "ratio", "<= 1.3"),
        Row(BENCH, "guarded / unguarded p50", ratio(p50["guarded"], p50["unguarded"]), "ratio"),
        Row(BENCH, "login (POST /api/auth/login): p50", median(login_s) * 1000, "ms"),
        Row(BENCH, "bare Argon2id verify: p50", median(verify_s) * 1000, "ms"),
        Row(BENCH, "login / bare Argon2id verify", ratio(median(login_s), median(verify_s)),
            "ratio", "<= 2"),
    ]  # fmt: skip
    errors = sum(s.errors for ss in samples.values() for s in ss) + login_failures
    rows.append(Row(BENCH, "failed requests", errors, "requests", "<= 0"))
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
