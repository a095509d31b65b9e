"""A PostgreSQL outage at runtime: liveness unaffected, health fails, recovery without restart.

These tests stop and restart the server, so they use their own instance, not the session's.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

import ocore_database
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET

AUTH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


@pytest.fixture(scope="module")
def own_pg(tmp_path_factory):
    from ocore_database.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("outage-pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, own_pg):
    if not own_pg.is_running():
        own_pg.start()
    return make_app(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "DATABASE_URL": own_pg.url,
            "DB_POOL_MIN_CONNS": "2",
            "HEALTH_CACHE_TTL": "0s",
            "DB_CONNECT_TIMEOUT": "1s",
        }
    )


def _query(app) -> int:
    with ocore_database.db(app).connect() as conn:
        return conn.execute(text("SELECT 1")).scalar_one()


def test_outage_fails_health_and_recovers_without_restart(app, own_pg):
    client = app.test_client()
    assert client.get("/api/health", headers=AUTH).status_code == 200
    own_pg.stop()
    try:
        for _ in range(20):
            started = time.monotonic()
            anonymous = client.get("/api/health")
            assert anonymous.status_code == 200 and anonymous.data == b'{"status":"ok"}'
            assert time.monotonic() - started < 0.25  # no database round trip, no timeout
        # The first check may still hold a connection that died with the server (like pgxpool,
        # recently used connections are not pinged); it is discarded, and the next check
        # reports the refused reconnect.
        for _ in range(2):
            rich = client.get("/api/health", headers=AUTH)
            assert rich.status_code == 503
            section = rich.json["checks"]["database"]
            assert section["status"] == "fail" and section["message"].startswith("query failed:")
            assert own_pg.password not in rich.get_data(as_text=True)
        assert "Connection refused" in section["message"]
    finally:
        own_pg.start()
    deadline = time.monotonic() + 10
    while client.get("/api/health", headers=AUTH).status_code != 200:
        assert time.monotonic() < deadline, "health did not recover after PostgreSQL came back"
        time.sleep(0.1)
    assert _query(app) == 1


def test_terminated_backends_are_replaced_transparently(app, own_pg):
    import psycopg2

    assert _query(app) == 1
    conn = psycopg2.connect(own_pg.url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'ocore' AND pid <> pg_backend_pid()"
        )
        assert cur.fetchone()[0] >= 2
    conn.close()
    time.sleep(1.1)  # past the pool's ping-after-idle threshold
    assert [_query(app) for _ in range(5)] == [1] * 5
    assert app.test_client().get("/api/health", headers=AUTH).status_code == 200
