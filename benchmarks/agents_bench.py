"""Agents (issue 14): pushes per second one server process sustains, as a ratio.

- pushes: ``POST /api/agents/push`` (Bearer agent token, a JSON snapshot like the reference
  agent's with 10 containers) on one real server (gunicorn gthread with the bundled config,
  waitress and granian; each 1 worker x 4 threads) serving an app with the agents plugin and
  what it requires, against
  ``agents_bare_app.py``: a bare Flask view doing the same single statement on the same pool
  (PgxPool, default bounds), without validation or any of ocore's request handling. Both with
  ``AGENT_PUSH_MIN_INTERVAL=0s`` (the statement still checks it), 8 keep-alive clients each
  cycling over its own 50 agents; rounds interleaved; best round of each;
- capacity: agents at a 30 s interval one such process carries = pushes/s x 30 (saturated: no
  headroom left for anything else).

    python benchmarks/agents_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from common import (
    Row,
    app_env,
    bench_main,
    bench_server,
    granian_argv,
    gunicorn_argv,
    percentile,
    postgres,
    progress,
    ratio,
    scaled,
    waitress_argv,
)

import ocore_agents
from ocore_agents.testing import (
    PLUGINS,
    SERVER_APP,
    build_agents_app,
    create_server,
    push_body,
    truncate,
)
from ocore_database.testing import cloned_database, migrate
from ocore_flask.app import close_app
from ocore_flask.testing import HOST, free_port, script

BENCH = "agents"
THREADS = 4
CONNECTIONS = 8


def _ocore_serve(server: str) -> Callable[[str, int], list[str]]:
    """``ocore serve --server X`` for the agents app (the supported way to run granian/waitress)."""

    def argv(target: str, port: int) -> list[str]:
        return [script("flask"), "--app", target, "ocore", "serve", "--server", server,
                "--host=127.0.0.1", f"--port={port}"]  # fmt: skip

    return argv


#: Per server, how it runs the agents app ("ocore") and the bare view ("bare").
SERVERS: dict[str, dict[str, Callable[[str, int], list[str]]]] = {
    "gunicorn": {
        "ocore": lambda target, port: gunicorn_argv(target, port, workers=1, threads=THREADS),
        "bare": lambda target, port: gunicorn_argv(target, port, workers=1, threads=THREADS),
    },
    "waitress": {
        "ocore": _ocore_serve("waitress"),
        "bare": lambda target, port: waitress_argv(target, port, THREADS),
    },
    "granian": {
        "ocore": _ocore_serve("granian"),
        "bare": lambda target, port: granian_argv(target, port, THREADS),
    },
}
AGENTS_PER_CONNECTION = 50
INTERVAL_S = 30
BODY = json.dumps(
    push_body(
        containers=[
            {"name": f"app-{i}", "state": "running", "health": "healthy"} for i in range(10)
        ]
    ),
    separators=(",", ":"),
).encode()


@dataclass
class Sample:
    """One load run: stored pushes per second, latency percentiles (ms), other answers."""

    pps: float
    p50_ms: float
    p99_ms: float
    other: Counter[int]


def _request(token: str) -> bytes:
    head = (
        f"POST /api/agents/push HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


def _answer(sock: socket.socket, buffer: bytearray) -> int:
    """Read one response off a keep-alive connection; its status."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return int(head.split(b" ", 2)[1])


def _load(port: int, tokens: list[list[str]], requests: int) -> Sample:
    """``requests`` pushes over one keep-alive connection per token list (a fixed count each)."""
    share = requests // len(tokens)
    barrier = threading.Barrier(len(tokens) + 1, timeout=60)
    latencies: list[float] = []
    other: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(own: list[str]) -> None:
        wire = [_request(token) for token in own]
        sock = socket.create_connection((HOST, port), timeout=30)
        buffer = bytearray()
        mine: list[float] = []
        refused: Counter[int] = Counter()
        try:
            barrier.wait()
            for i in range(share):
                started = time.perf_counter()
                sock.sendall(wire[i % len(wire)])
                status = _answer(sock, buffer)
                if status == 204:
                    mine.append(time.perf_counter() - started)
                else:
                    refused[status] += 1
        finally:
            sock.close()
            with lock:
                latencies.extend(mine)
                other.update(refused)

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in tokens]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return Sample(
        len(latencies) / seconds,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        other,
    )


def _register(env: dict[str, str], count: int) -> list[str]:
    """``count`` managed servers with an agent each, in the benchmark's database; the tokens."""
    app = build_agents_app(env)
    try:
        truncate(app)
        tokens = []
        for i in range(count):
            name = f"bench-{i:05d}"
            create_server(app, name)
            tokens.append(ocore_agents.agents(app).register(name).token)
        return tokens
    finally:
        close_app(app)


def run(args: argparse.Namespace) -> list[Row]:
    """Measure and return the rows."""
    requests = scaled(args, 6_000, 1_500)
    rounds = scaled(args, 3, 1)
    with postgres(args.database_url) as server_url, cloned_database(server_url) as url:
        migrate(url, list(PLUGINS))
        env = app_env(
            url,
            {
                "AGENT_PUSH_MIN_INTERVAL": "0s",
                "LOG_LEVEL": "warning",
                "WEB_CONCURRENCY": "1",
                "SERVER_THREADS": str(THREADS),
            },
        )
        tokens = _register(env, CONNECTIONS * AGENTS_PER_CONNECTION)
        slices = [
            tokens[i * AGENTS_PER_CONNECTION : (i + 1) * AGENTS_PER_CONNECTION]
            for i in range(CONNECTIONS)
        ]
        samples: dict[str, list[Sample]] = {}
        targets = {"ocore": SERVER_APP, "bare": "agents_bare_app:app"}
        for number in range(rounds):
            for server, launchers in SERVERS.items():
                for name, target in targets.items():
                    port = free_port()
                    argv = launchers[name](target, port)
                    with bench_server(f"{name} {server}", argv, env, port):
                        _load(port, slices, min(requests // 4, 2_000))  # warm-up
                        sample = _load(port, slices, requests)
                    key = name if server == "gunicorn" else f"{name} {server}"
                    samples.setdefault(key, []).append(sample)
                    progress(
                        f"round {number + 1} {name} on {server}: {sample.pps:,.0f} pushes/s, "
                        f"p50 {sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms, "
                        f"other {dict(sample.other)}"
                    )
    best = {name: max(s, key=lambda x: x.pps) for name, s in samples.items()}
    per_server = []
    for server in ("waitress", "granian"):
        ocore, bare = best[f"ocore {server}"], best[f"bare {server}"]
        per_server += [
            Row(BENCH, f"pushes/s, ocore on {server} (1 worker x {THREADS} threads)",
                round(ocore.pps), "pushes/s"),
            Row(BENCH, f"ocore / bare pushes/s on {server}", ratio(ocore.pps, bare.pps), "ratio",
                ">= 0.7"),
            Row(BENCH, f"ocore push p50 / p99 latency on {server}",
                f"{ocore.p50_ms:.2f} / {ocore.p99_ms:.2f}", "ms"),
        ]  # fmt: skip
    failures = sum(sum(s.other.values()) for runs in samples.values() for s in runs)
    where = f"gunicorn 1 worker x {THREADS} threads, {CONNECTIONS} clients"
    return [
        Row(BENCH, f"pushes/s, ocore ({where})", round(best["ocore"].pps), "pushes/s"),
        Row(BENCH, f"pushes/s, bare Flask view, same statement and pool ({where})",
            round(best["bare"].pps), "pushes/s"),
        Row(BENCH, "ocore / bare pushes/s", ratio(best["ocore"].pps, best["bare"].pps), "ratio",
            ">= 0.7"),
        Row(BENCH, "ocore push p50 / p99 latency",
            f"{best['ocore'].p50_ms:.2f} / {best['ocore'].p99_ms:.2f}", "ms"),
        Row(BENCH, f"agents at a {INTERVAL_S} s interval one process carries (saturated)",
            round(best["ocore"].pps * INTERVAL_S), "agents"),
        *per_server,
        Row(BENCH, "answers other than 204 (all runs)", failures, "requests", "<= 0"),
    ]  # fmt: skip


if __name__ == "__main__":
    bench_main(run, __doc__)
