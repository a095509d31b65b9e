"""gunicorn with the bundled config: preload-safe database pool, config errors exit 78."""

from __future__ import annotations

import json
import signal
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from ocore_flask.testing import (
    HEALTH_TOKEN,
    JWT_SECRET,
    ServerProcess,
    base_env,
    free_port,
    run,
    script,
)


def _rich(url: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _backends(url: str, name: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


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
            results = list(pool.map(lambda _: _rich(server.url + "/api/health"), range(60)))
        assert [status for status, _ in results] == [200] * 60
        assert all(body["checks"]["database"]["status"] == "ok" for _, body in results)
        # the master's preloaded connection plus at least one per worker
        assert _backends(database_url, name) >= 3
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
