"""``ocore serve --server granian``: the app is built and checked before granian starts (78, 69,
no worker booted), workers are forks that each own their database connections, a killed worker
is replaced, SERVER_HOST:SERVER_PORT bound, and no ``Server`` value on any response."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from ocore_database.testing import backend_count
from ocore_flask.testing import (
    HEALTH_TOKEN,
    JWT_SECRET,
    ServerProcess,
    base_env,
    fetch_rich_health,
    free_port,
    run,
    script,
    wait_for,
)

GRANIAN = [script("ocore"), "serve", "--server", "granian"]


def _env(**extra: str) -> dict[str, str]:
    return base_env({"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET, **extra})


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]


def test_invalid_configuration_exits_78_before_granian_starts():
    result = run([*GRANIAN, "--port", str(free_port())], base_env({"ENVIRONMENT": "production"}))
    assert result.returncode == 78
    assert "JWT_SECRET" in result.stderr and "SSH_ENCRYPTION_KEY" in result.stderr
    assert "Traceback" not in result.stderr and "granian" not in result.stderr


def test_database_down_exits_69_before_any_worker():
    env = _env(
        DATABASE_URL="postgres://u:p@127.0.0.1:1/x",
        DB_STARTUP_TIMEOUT="1s",
        WEB_CONCURRENCY="2",
        SERVER_PORT=str(free_port()),
    )
    started = time.monotonic()
    result = run(GRANIAN, env, timeout=30)
    assert result.returncode == 69, result.stderr[-3000:]
    assert time.monotonic() - started < 20
    assert "Spawning worker" not in result.stderr and "Traceback" not in result.stderr


def test_two_workers_each_use_their_own_connections(database_url):
    name = f"granian_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = _env(
        HEALTH_CHECK_TOKEN=HEALTH_TOKEN,
        DATABASE_URL=f"{database_url}?application_name={name}",
        DB_POOL_MIN_CONNS="1",
        DB_POOL_MAX_CONNS="4",
        HEALTH_CACHE_TTL="0s",
        WEB_CONCURRENCY="2",
        SERVER_PORT=str(port),
    )
    with ServerProcess(GRANIAN, env, port) as server:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda _: fetch_rich_health(server.url), range(60)))
        assert [status for status, _ in results] == [200] * 60
        assert all(body["checks"]["database"]["status"] == "ok" for _, body in results)
        assert len(_children(server.proc.pid)) == 2
        # the master's pool (built to check the app) plus at least one per worker
        assert 3 <= backend_count(database_url, name) <= 3 * 4
        assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.output
    assert "WARNING" not in server.output, "a default start has nothing to warn about"
    # development's SERVER_HOST default is loopback, and the line has the configured format
    assert f"serving on http://127.0.0.1:{port}" in server.output


def test_a_killed_worker_is_replaced_and_the_server_keeps_serving(database_url):
    port = free_port()
    env = _env(DATABASE_URL=database_url, WEB_CONCURRENCY="2", SERVER_PORT=str(port))
    with ServerProcess(GRANIAN, env, port) as server:
        before = _children(server.proc.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        assert wait_for(
            lambda: len(now := _children(server.proc.pid)) == 2 and before[0] not in now,
            timeout=20,
        )
        with urllib.request.urlopen(server.url + "/api/health", timeout=10) as response:
            assert response.status == 200
        assert server.stop(signal.SIGTERM) == 0


def test_no_response_names_the_server(database_url):
    """The app's responses carry an empty ``Server`` (granian adds ``server: granian`` to any
    response without one); the 400s granian's HTTP parser writes itself carry none."""
    port = free_port()
    env = _env(DATABASE_URL=database_url, SERVER_PORT=str(port))
    with ServerProcess(GRANIAN, env, port):
        replies = []
        for request in (
            b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /no/such/page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                replies.append(sock.recv(65536).decode("latin-1"))
    statuses = [reply.split("\r\n", 1)[0] for reply in replies]
    assert statuses == [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 404 Not Found",
        *["HTTP/1.1 400 Bad Request"] * 2,
    ]
    for reply in replies:
        head = reply.split("\r\n\r\n", 1)[0].lower()
        assert "granian" not in head
        assert [line for line in head.split("\r\n") if line.startswith("server:")] in (
            [],
            ["server: "],
        )
