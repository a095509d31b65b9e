"""gunicorn with the bundled config: preload-safe database pool, config errors exit 78, a worker
that cannot start stops the master with its status (69, 78), SERVER_HOST:SERVER_PORT bound."""

from __future__ import annotations

import signal
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from ocore_database.testing import backend_count
from ocore_flask.serving import host_port
from ocore_flask.testing import (
    HEALTH_TOKEN,
    JWT_SECRET,
    ServerProcess,
    base_env,
    fetch_rich_health,
    free_port,
    run,
    script,
)


def test_preload_with_two_workers_gives_each_its_own_connections(database_url):
    name = f"gunicorn_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "DATABASE_URL": f"{database_url}?application_name={name}",
            "DB_POOL_MIN_CONNS": "1",
            "DB_POOL_MAX_CONNS": "4",
            "HEALTH_CACHE_TTL": "0s",
        }
    )
    argv = [script("gunicorn"), "--preload", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    with ServerProcess(argv, env, port) as server:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda _: fetch_rich_health(server.url), range(60)))
        assert [status for status, _ in results] == [200] * 60
        assert all(body["checks"]["database"]["status"] == "ok" for _, body in results)
        # the master's preloaded connection plus at least one per worker
        assert backend_count(database_url, name) >= 3
        assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.output


def test_invalid_configuration_exits_78_before_any_worker():
    result = run(
        [script("gunicorn"), "-b", f"127.0.0.1:{free_port()}", "wsgi:app"],
        base_env({"ENVIRONMENT": "production"}),
        timeout=30,
    )
    assert result.returncode == 78
    assert "JWT_SECRET" in result.stderr and "DATABASE_URL" in result.stderr
    assert "SSH_ENCRYPTION_KEY" in result.stderr
    assert "Traceback" not in result.stderr and "Booting worker" not in result.stderr


def test_database_down_stops_the_master_with_69_instead_of_respawning():
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": "postgres://u:p@127.0.0.1:1/x",
            "DB_STARTUP_TIMEOUT": "1s",
            "WEB_CONCURRENCY": "2",
            "SERVER_PORT": str(free_port()),
        }
    )
    started = time.monotonic()
    result = run([script("gunicorn"), "wsgi:app"], env, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 69, result.stderr[-3000:]
    # Alone it takes about 4 s (two workers each build the app, then 1 s of DB_STARTUP_TIMEOUT);
    # a respawn loop would run into run()'s 30 s. The bound leaves room for a busy machine.
    assert elapsed < 20, f"took {elapsed:.1f}s"
    assert result.stderr.count("Booting worker") == 2, "no worker may be respawned"
    assert "not respawning" in result.stderr and "Traceback" not in result.stderr


def test_binds_server_host_and_port_and_sends_no_server_header(database_url):
    port = free_port()
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": database_url,
            "SERVER_PORT": str(port),
        }
    )
    argv = [script("gunicorn"), "wsgi:app"]  # no -b: the bundled config binds
    with ServerProcess(argv, env, port) as server:
        with urllib.request.urlopen(server.url + "/api/health", timeout=10) as response:
            assert response.status == 200
            assert response.headers.get("Server") is None
        assert server.stop() == 0
    # development's SERVER_HOST default is loopback: gunicorn must not widen it to 0.0.0.0
    assert f"Listening at: http://127.0.0.1:{port}" in server.output


def test_gunicorn_bind_brackets_an_ipv6_host():
    assert host_port("::1", 8080) == "[::1]:8080"
    assert host_port("127.0.0.1", 8080) == "127.0.0.1:8080"
