"""Health (issue 4): anonymous ``/api/health`` throughput vs a bare Flask app on the same server,
and rich health latency with the result cache cold and warm.

- throughput: ocore's ``wsgi:app`` and ``bare_app:app`` under waitress-serve and under gunicorn
  with the bundled ``gunicorn.conf.py`` (same workers and threads for all), loaded over
  keep-alive connections in interleaved rounds; plus ``ocore serve`` against the same baseline;
- rich latency: one monitor-like client, ``Authorization: Bearer <HEALTH_CHECK_TOKEN>``, with
  ``HEALTH_CACHE_TTL=0s`` (every request runs the contributors) and the default ``1s``.

    python benchmarks/health_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from common import (
    LoadResult,
    Row,
    app_env,
    bench_main,
    bench_server,
    gunicorn_argv,
    http_load,
    postgres,
    progress,
    ratio,
    run_command,
    scaled,
    waitress_argv,
)

from ocore_flask.testing import ServerProcess, free_port, script

BENCH = "health"
WORKERS = 1  # WEB_CONCURRENCY's default
THREADS = 8  # SERVER_THREADS's default
CONCURRENCY = 8


def _waitress(name: str, target: str, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    return bench_server(name, waitress_argv(target, port, THREADS), env, port)


def _gunicorn(name: str, target: str, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    return bench_server(name, gunicorn_argv(target, port, WORKERS, THREADS), env, port)


def _ocore_serve(name: str, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    argv = [script("ocore"), "serve", "--host=127.0.0.1", f"--port={port}"]
    return bench_server(name, argv, env, port)


@contextmanager
def _servers(servers: list[ServerProcess]) -> Iterator[dict[str, ServerProcess]]:
    with ExitStack() as stack:
        for server in servers:
            progress(f"health: starting {server.name}")
            stack.enter_context(server)
        yield {s.name: s for s in servers}


def run(args: argparse.Namespace) -> list[Row]:
    """Every health measurement, on ``args.database_url`` or an embedded PostgreSQL."""
    rounds = scaled(args, 5, 1)
    requests = scaled(args, 2_000, 500)
    latency_requests = scaled(args, 300, 60)
    with postgres(getattr(args, "database_url", None)) as url:
        env = app_env(url, {"WEB_CONCURRENCY": str(WORKERS), "SERVER_THREADS": str(THREADS)})
        migrated = run_command([script("ocore"), "db", "upgrade"], env)
        if migrated.returncode != 0:
            raise RuntimeError(f"ocore db upgrade failed:\n{migrated.stderr}")
        cold_env = env | {"HEALTH_CACHE_TTL": "0s"}
        servers = [
            _waitress("waitress ocore", "wsgi:app", env),
            _waitress("waitress bare", "bare_app:app", env),
            _gunicorn("gunicorn ocore", "wsgi:app", env),
            _gunicorn("gunicorn bare", "bare_app:app", env),
            _ocore_serve("ocore serve", env),
            _waitress("waitress ocore, HEALTH_CACHE_TTL=0s", "wsgi:app", cold_env),
        ]
        with _servers(servers) as running:
            rows = _throughput(running, rounds, requests)
            rows += _latency(running, rounds, latency_requests, env["HEALTH_CHECK_TOKEN"])
            for server in servers:
                # ocore serve and gunicorn drain and exit 0 on SIGTERM; waitress-serve dies of it.
                expected = -signal.SIGTERM if server.argv[0].endswith("waitress-serve") else 0
                status = server.stop()
                if status != expected:
                    progress(f"note: {server.name} exited {status} on SIGTERM, not {expected}")
    return rows


def _throughput(running: dict[str, ServerProcess], rounds: int, requests: int) -> list[Row]:
    names = ["waitress ocore", "waitress bare", "gunicorn ocore", "gunicorn bare", "ocore serve"]
    results: dict[str, list[LoadResult]] = {n: [] for n in names}
    for name in names:  # warm every server before any measured round
        http_load(running[name].port, requests=300, concurrency=CONCURRENCY)
    for _ in range(rounds):  # interleaved: drift and neighbours hit every server alike
        for name in names:
            result = http_load(running[name].port, requests=requests, concurrency=CONCURRENCY)
            results[name].append(result)
            progress(f"health {name}: {result.summary()}")
    best = {n: max(r.rps for r in rs) for n, rs in results.items()}
    errors = sum(r.errors for rs in results.values() for r in rs)
    setup = f"{WORKERS} worker x {THREADS} threads, {CONCURRENCY} keep-alive clients"
    rows = []
    for server in ("waitress", "gunicorn"):
        rows += [
            Row(BENCH, f"anonymous /api/health, {server} ({setup}): ocore", round(best[
                f"{server} ocore"]), "req/s"),
            Row(BENCH, f"anonymous /api/health, {server} ({setup}): bare Flask",
                round(best[f"{server} bare"]), "req/s"),
            Row(BENCH, f"anonymous /api/health, {server}: ocore / bare Flask throughput",
                ratio(best[f"{server} ocore"], best[f"{server} bare"]), "ratio", ">= 0.9"),
        ]  # fmt: skip
    rows += [
        Row(BENCH, "anonymous /api/health: ocore serve / bare Flask on waitress-serve",
            ratio(best["ocore serve"], best["waitress bare"]), "ratio", ">= 0.9"),
        Row(BENCH, f"anonymous /api/health: failed requests of {rounds * len(names) * requests:,}",
            errors, "requests", "<= 0"),
    ]  # fmt: skip
    return rows


def _latency(
    running: dict[str, ServerProcess], rounds: int, requests: int, token: str
) -> list[Row]:
    rich = {"Authorization": f"Bearer {token}"}
    cases = {
        "anonymous": ("waitress ocore", None),
        "rich, cache cold (HEALTH_CACHE_TTL=0s)": ("waitress ocore, HEALTH_CACHE_TTL=0s", rich),
        "rich, cache warm (HEALTH_CACHE_TTL=1s)": ("waitress ocore", rich),
    }
    samples: dict[str, list[float]] = {c: [] for c in cases}
    errors = 0
    for server, headers in cases.values():  # warm-up
        http_load(running[server].port, requests=20, concurrency=1, headers=headers)
    for _ in range(rounds):
        for name, (server, headers) in cases.items():
            result = http_load(
                running[server].port, requests=requests, concurrency=1, headers=headers
            )
            samples[name] += result.latencies
            errors += result.errors
            progress(f"health latency {name}: {result.summary()}")
    merged = {
        name: LoadResult(len(s), len(s), 0, 0.0, s) for name, s in samples.items() if s
    }  # percentiles over every round's samples
    rows = []
    for name in cases:
        if name not in merged:
            continue
        rows += [
            Row(BENCH, f"{name}, 1 client, waitress: p50", merged[name].p50_ms, "ms"),
            Row(BENCH, f"{name}, 1 client, waitress: p99", merged[name].p99_ms, "ms"),
        ]
    cold = "rich, cache cold (HEALTH_CACHE_TTL=0s)"
    warm = "rich, cache warm (HEALTH_CACHE_TTL=1s)"
    if cold in merged and warm in merged and "anonymous" in merged:
        anonymous_p50 = merged["anonymous"].p50_ms
        rows += [
            Row(BENCH, "rich cold / anonymous p50 latency",
                ratio(merged[cold].p50_ms, anonymous_p50), "ratio"),
            Row(BENCH, "rich warm / anonymous p50 latency",
                ratio(merged[warm].p50_ms, anonymous_p50), "ratio"),
        ]  # fmt: skip
    rows.append(Row(BENCH, "latency runs: failed requests", errors, "requests", "<= 0"))
    sections = _rich_sections(running["waitress ocore"].port, rich)
    rows.append(Row(BENCH, "rich payload: status and sections checked", sections, "info"))
    return rows


def _rich_sections(port: int, headers: dict[str, str]) -> str:
    """The rich payload's overall status and its sections with their statuses."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/health", headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return f"unreadable ({type(exc).__name__})"
    finally:
        conn.close()
    checks = payload.get("checks", {})
    listed = ", ".join(f"{name} {check.get('status')}" for name, check in checks.items())
    return f"HTTP {response.status}, {payload.get('status')}: {listed or 'no sections'}"


if __name__ == "__main__":
    bench_main(run, __doc__)
