"""Load and faults against real waitress and granian servers (``ocore serve``) on loopback
(bounded counts, loopback only)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter

import pytest

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, ServerProcess, base_env, free_port, script

RICH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


@pytest.fixture(params=["waitress", "granian"])
def kind(request) -> str:
    return request.param


def _serve(kind: str, port: int, database_url: str, **extra: str) -> ServerProcess:
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "DATABASE_URL": database_url,
            "DB_POOL_MIN_CONNS": "1",
            **extra,
        }
    )
    argv = [script("ocore"), "serve", "--server", kind, "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess(argv, env, port)


def _load(
    port: int,
    total: int,
    concurrency: int,
    headers: dict | None = None,
    stop: threading.Event | None = None,
) -> list[tuple[float, int]]:
    """``total`` GETs of /api/health over ``concurrency`` keep-alive connections."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    per_worker = total // concurrency

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per_worker):
            if stop is not None and stop.is_set():
                break
            try:
                conn.request("GET", "/api/health", headers=headers or {})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status = -1
            with lock:
                results.append((time.monotonic(), status))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _rss_kb(pid: int) -> int:
    """The resident memory of ``pid`` and its children (granian's workers)."""
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        children = [int(child) for child in listed.read().split()]
    with open(f"/proc/{pid}/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return own + sum(_rss_kb(child) for child in children)


def test_ten_thousand_anonymous_requests_at_concurrency_50(kind, database_url):
    port = free_port()
    with _serve(kind, port, database_url) as server:
        _load(port, 1000, 50)  # warm up threads, buffers and caches
        before = _rss_kb(server.proc.pid)
        results = _load(port, 10_000, 50)
        after = _rss_kb(server.proc.pid)
    assert len(results) == 10_000
    assert Counter(status for _, status in results) == {200: 10_000}
    assert after - before < 20_000, f"RSS grew by {after - before} KiB"


def _rich(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/health", headers=RICH)
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def test_rich_health_under_load_runs_each_contributor_once_per_cache_window(kind, database_url):
    port = free_port()
    runs: dict[str, set[str]] = {}
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(40):
            conn.request("GET", "/api/health", headers=RICH)
            response = conn.getresponse()
            body = json.loads(response.read())
            with lock:
                statuses.append(response.status)
                for name, section in body["checks"].items():
                    # a section's observed_at is the time of the run that produced it
                    runs.setdefault(name, set()).add(section["observed_at"])
        conn.close()

    with _serve(kind, port, database_url, HEALTH_CACHE_TTL="1s"):
        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert statuses == [200] * 2_000
    assert {"database", "vault"} <= set(runs)
    for name, observed in runs.items():
        assert len(observed) <= elapsed / 1.0 + 2, f"{name}: {len(observed)} runs in {elapsed:.1f}s"


@pytest.fixture
def own_pg(tmp_path):
    from ocore_database.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    yield server
    server.stop()


def test_postgres_restart_during_load_recovers_without_a_process_restart(kind, own_pg):
    port = free_port()
    with _serve(kind, port, own_pg.url, HEALTH_CACHE_TTL="0s", DB_CONNECT_TIMEOUT="1s") as server:
        stop = threading.Event()
        results: list[tuple[float, int]] = []
        loader = threading.Thread(
            target=lambda: results.extend(_load(port, 100_000, 8, RICH, stop=stop))
        )
        loader.start()
        time.sleep(1.0)
        down_at = time.monotonic()
        own_pg.stop()
        time.sleep(1.0)
        own_pg.start()
        up_at = time.monotonic()
        time.sleep(2.0)
        stop.set()
        loader.join(timeout=30)
        pid = server.proc.pid
        assert server.proc.poll() is None, "the server process must survive the outage"
    before = [s for t, s in results if t < down_at]
    during = [s for t, s in results if down_at <= t <= up_at + 1.0]
    after = [s for t, s in results if t > up_at + 1.0]
    assert before and set(before) == {200}
    assert 503 in during, "the outage must be visible in health"
    assert set(during) <= {200, 503}, "no 500s or dropped connections during the outage"
    assert after and set(after) == {200}, "full recovery after PostgreSQL is back"
    assert pid == server.proc.pid


def test_slow_clients_cannot_exhaust_the_server(kind, database_url):
    port = free_port()
    with _serve(kind, port, database_url, SERVER_CHANNEL_TIMEOUT="2s", SERVER_THREADS="4"):
        slow = []
        for _ in range(60):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finished
            slow.append(sock)
        started = time.monotonic()
        results = _load(port, 200, 10)
        assert Counter(status for _, status in results) == {200: 200}
        assert time.monotonic() - started < 5
        time.sleep(3.5)  # past the channel timeout: the server has dropped the slow sockets
        closed = 0
        for sock in slow:
            sock.settimeout(1)
            try:
                closed += sock.recv(1) == b""
            except OSError:
                closed += 1
            sock.close()
        assert closed == len(slow)
