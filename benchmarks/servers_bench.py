"""Servers (issue 17): ``GET /api/health`` on waitress, gunicorn gthread and granian, each
serving the real app and a raw WSGI callable sending the same body and headers
(``raw_app:app``): requests/s and p50/p99, rounds interleaved, medians over rounds.

The app runs the supported way: ``ocore serve --server waitress|granian`` and gunicorn with the
bundled config; the raw callable under ``waitress-serve``, gunicorn and the ``granian`` CLI with
the same options. Every server gets 1 worker process and the same number of request threads.
Each app is measured anonymous (liveness) and with the health token (the rich view, cached for
HEALTH_CACHE_TTL). ocore's logging sets waitress's ``waitress.queue`` logger to ERROR (the raw
callable does the same); waitress runs both once more with it loud, as waitress leaves it (for
the app, a LOG_CONFIG file), and the app once more pinned to one CPU with ``taskset`` (its I/O
thread and request threads then hand the GIL over on one core). The load
is bounded (a fixed duration with ``wrk`` when installed, else a fixed request count with the
benchmarks' own HTTP client) and stays on 127.0.0.1.

    python benchmarks/servers_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from common import (
    Row,
    app_env,
    bench_main,
    bench_server,
    granian_argv,
    gunicorn_argv,
    http_load,
    median,
    postgres,
    progress,
    ratio,
    run_command,
    scaled,
    waitress_argv,
)

from ocore_flask.testing import ServerProcess, free_port, script

BENCH = "servers"
THREADS = 4
CONNECTIONS = 8
#: Headers that belong to the connection or the moment, not to the app's response.
TRANSIENT = {"date", "server", "content-length", "connection", "keep-alive", "transfer-encoding"}


@dataclass
class Sample:
    """One load run: successful requests per second and latency percentiles in ms."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


Launcher = Callable[[str, dict[str, str], int], list[str]]


def _waitress(target: str, env: dict[str, str], port: int) -> list[str]:
    return waitress_argv(target, port, THREADS)


def _gunicorn(target: str, env: dict[str, str], port: int) -> list[str]:
    return gunicorn_argv(target, port, 1, THREADS)


def _ocore_serve(server: str) -> Launcher:
    """``ocore serve --server X``: the supported way to run the app (target ``wsgi:app``)."""

    def argv(target: str, env: dict[str, str], port: int) -> list[str]:
        return [script("ocore"), "serve", "--server", server, "--host=127.0.0.1", f"--port={port}"]

    return argv


def _pinned(launcher: Launcher) -> Launcher:
    """``launcher`` under ``taskset``: the whole server on the machine's last CPU."""

    def argv(target: str, env: dict[str, str], port: int) -> list[str]:
        return ["taskset", "-c", str(os.cpu_count() - 1), *launcher(target, env, port)]

    return argv


def _granian(target: str, env: dict[str, str], port: int) -> list[str]:
    return granian_argv(target, port, THREADS)


def _server(name: str, launcher: Launcher, target: str, env: dict[str, str]) -> ServerProcess:
    port = free_port()
    return bench_server(name, launcher(target, env, port), env, port)


def _app_headers(port: int) -> list[tuple[str, str]]:
    """The real app's anonymous health headers, without the per-connection ones."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/health")
        response = conn.getresponse()
        response.read()
        return [(k, v) for k, v in response.getheaders() if k.lower() not in TRANSIENT]
    finally:
        conn.close()


_WRK_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_ERRORS = re.compile(r"(?:Non-2xx or 3xx responses|Socket errors):\s*(.+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(port: int, seconds: int, headers: dict[str, str]) -> Sample:
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://127.0.0.1:{port}/api/health")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    rps = _WRK_RPS.search(done.stdout)
    pct = {p: float(v) * _UNIT[u] for p, v, u in _WRK_PCT.findall(done.stdout)}
    if rps is None or set(pct) != {"50", "99"}:
        raise RuntimeError(f"unreadable wrk output:\n{done.stdout}")
    errors = sum(
        int(n) for line in _WRK_ERRORS.findall(done.stdout) for n in re.findall(r"\d+", line)
    )
    return Sample(float(rps.group(1)), pct["50"], pct["99"], errors)


def _load(port: int, seconds: int, requests: int, headers: dict[str, str] | None = None) -> Sample:
    if shutil.which("wrk"):
        return _wrk(port, seconds, headers or {})
    result = http_load(port, requests=requests, concurrency=CONNECTIONS, headers=headers)
    return Sample(result.rps, result.p50_ms, result.p99_ms, result.errors)


def _loud_queue_logger(folder: str) -> str:
    """A LOG_CONFIG file that leaves ``waitress.queue`` at WARNING, as waitress itself does
    (ocore's own logging sets it to ERROR)."""
    path = Path(folder) / "loud-queue.json"
    config = {
        "version": 1,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {"waitress.queue": {"level": "WARNING"}},
    }
    path.write_text(json.dumps(config))
    return str(path)


def run(args: argparse.Namespace) -> list[Row]:
    """Every server, raw and real app, on ``args.database_url`` or an embedded PostgreSQL."""
    rounds = scaled(args, 5, 2)
    seconds = scaled(args, 5, 2)
    requests = scaled(args, 4_000, 1_000)
    with postgres(getattr(args, "database_url", None)) as url, tempfile.TemporaryDirectory() as tmp:
        env = app_env(url, {"WEB_CONCURRENCY": "1", "SERVER_THREADS": str(THREADS)})
        migrated = run_command([script("ocore"), "db", "upgrade"], env)
        if migrated.returncode != 0:
            raise RuntimeError(f"ocore db upgrade failed:\n{migrated.stderr}")
        with _server("probe", _waitress, "wsgi:app", env) as probe:
            headers = _app_headers(probe.port)
        raw_env = env | {"RAW_HEADERS": json.dumps(headers)}
        loud = _loud_queue_logger(tmp)
        cases: dict[str, tuple[Launcher, str, dict[str, str]]] = {
            "waitress app": (_ocore_serve("waitress"), "wsgi:app", env),
            "waitress app, queue logger loud": (
                _ocore_serve("waitress"), "wsgi:app", env | {"LOG_CONFIG": loud}
            ),
            "waitress raw": (_waitress, "raw_app:app", raw_env | {"RAW_QUIET_QUEUE": "1"}),
            "waitress raw, queue logger loud": (_waitress, "raw_app:app", raw_env),
            "waitress app, pinned to one core": (_pinned(_ocore_serve("waitress")), "", env),
            "gunicorn app": (_gunicorn, "wsgi:app", env),
            "gunicorn raw": (_gunicorn, "raw_app:app", raw_env),
            "granian app": (_ocore_serve("granian"), "wsgi:app", env),
            "granian raw": (_granian, "raw_app:app", raw_env),
        }  # fmt: skip
        if not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
            del cases["waitress app, pinned to one core"]
            progress("servers: no taskset or one CPU: no pinned waitress row")
        rich = {"Authorization": f"Bearer {env['HEALTH_CHECK_TOKEN']}"}
        samples: dict[str, list[Sample]] = {}
        with ExitStack() as stack:
            running = {}
            for name, (launcher, target, case_env) in cases.items():
                progress(f"servers: starting {name}")
                running[name] = stack.enter_context(_server(name, launcher, target, case_env))
            for server in running.values():  # warm every server before measuring
                _load(server.port, 1, 500)
            for _ in range(rounds):  # interleaved: drift and neighbours hit every server alike
                for name, server in running.items():
                    views = {name: None}
                    if name.endswith(" app"):  # the rich view too (cached for HEALTH_CACHE_TTL)
                        views[f"{name} rich"] = rich
                    for view, view_headers in views.items():
                        sample = _load(server.port, seconds, requests, view_headers)
                        samples.setdefault(view, []).append(sample)
                        progress(
                            f"servers {view}: {sample.rps:,.0f} req/s, p50 "
                            f"{sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms, "
                            f"errors {sample.errors}"
                        )
    return _rows(samples, rounds, headers)


def _rows(
    samples: dict[str, list[Sample]], rounds: int, headers: list[tuple[str, str]]
) -> list[Row]:
    rps = {n: median([s.rps for s in ss]) for n, ss in samples.items()}
    p50 = {n: median([s.p50_ms for s in ss]) for n, ss in samples.items()}
    p99 = {n: median([s.p99_ms for s in ss]) for n, ss in samples.items()}
    tool = "wrk -t1 -c8" if shutil.which("wrk") else f"{CONNECTIONS} keep-alive clients"
    setup = f"1 worker x {THREADS} threads, {tool}, median of {rounds} rounds"
    setup += f"; the raw callable sends the app's {len(headers)} headers"
    rows = [Row(BENCH, "setup", setup, "info")]
    for name in samples:
        rows += [
            Row(BENCH, f"{name}: throughput", round(rps[name]), "req/s"),
            Row(BENCH, f"{name}: p50", p50[name], "ms"),
            Row(BENCH, f"{name}: p99", p99[name], "ms"),
        ]
    for server in ("waitress", "gunicorn", "granian"):
        if f"{server} app" in rps:
            rows.append(
                Row(BENCH, f"{server}: app / raw callable throughput",
                    ratio(rps[f"{server} app"], rps[f"{server} raw"]), "ratio", ">= 0.9")
            )  # fmt: skip
    rows += [
        Row(BENCH, "waitress raw: queue logger quiet (as ocore sets it) / loud",
            ratio(rps["waitress raw"], rps["waitress raw, queue logger loud"]), "ratio"),
        Row(BENCH, "waitress app: queue logger quiet (ocore) / loud",
            ratio(rps["waitress app"], rps["waitress app, queue logger loud"]), "ratio"),
        *(
            [Row(BENCH, "waitress app: pinned to one core / not pinned",
                 ratio(rps["waitress app, pinned to one core"], rps["waitress app"]), "ratio")]
            if "waitress app, pinned to one core" in rps else []
        ),
        Row(BENCH, "granian app / waitress app throughput",
            ratio(rps["granian app"], rps["waitress app"]), "ratio", ">= 5"),
        Row(BENCH, "granian app rich / waitress app rich throughput",
            ratio(rps["granian app rich"], rps["waitress app rich"]), "ratio"),
    ]  # fmt: skip
    errors = sum(s.errors for ss in samples.values() for s in ss)
    rows.append(Row(BENCH, "failed requests", errors, "requests", "<= 0"))
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
