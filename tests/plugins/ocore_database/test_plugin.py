"""The database plugin wired into a real app against real PostgreSQL."""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest

from ocore_database.testing import backend_count, with_database
from ocore_flask.errors import EX_UNAVAILABLE, ServiceUnavailable
from ocore_flask.testing import HEALTH_TOKEN, free_port

AUTH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


def test_min_connections_are_open_right_after_startup(make_app, app_env, database_url):
    name = f"ocore_t_{uuid.uuid4().hex[:8]}"
    env = {
        **app_env,
        "DATABASE_URL": f"{database_url}?application_name={name}",
        "DB_POOL_MIN_CONNS": "3",
    }
    make_app(env)
    assert backend_count(database_url, name) == 3


def test_connections_carry_the_default_application_name(make_app, app_env, database_url):
    before = backend_count(database_url, "ocore")
    make_app({**app_env, "DB_POOL_MIN_CONNS": "2"})
    assert backend_count(database_url, "ocore") == before + 2


def test_health_section_is_critical_and_carries_pool_metrics(make_app, app_env):
    app = make_app(app_env)
    response = app.test_client().get("/api/health", headers=AUTH)
    assert response.status_code == 200
    section = response.json["checks"]["database"]
    assert section["status"] == "ok" and section["critical"] is True
    data = section["data"]
    assert data["max_conns"] == 5 and data["min_conns"] == 1
    # other sections (the vault) may hold a connection at the same moment
    assert data["total_conns"] >= 1 and 0 <= data["acquired_conns"] <= data["total_conns"]
    assert data["acquire_count"] >= 1 and data["new_conns_count"] >= 1
    assert data["ping_ms"] >= 0


def test_unreachable_server_fails_startup_with_status_69_within_the_wait(make_app, app_env):
    port = free_port()
    url = f"postgresql://ocore:Sup3r-S3cret@127.0.0.1:{port}/ocore"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        make_app({**app_env, "DATABASE_URL": url, "DB_STARTUP_TIMEOUT": "1s"})
    assert time.monotonic() - started < 4
    message = str(caught.value)
    assert caught.value.exit_code == EX_UNAVAILABLE == 69
    assert f"127.0.0.1:{port}/ocore" in message and "user ocore" in message
    assert "Connection refused" in message
    assert "Sup3r-S3cret" not in message
    # What happened and for how long: it kept retrying until DB_STARTUP_TIMEOUT.
    assert re.search(r"no answer after [0-9.]+s of retrying \(DB_STARTUP_TIMEOUT=1s\)", message)


def test_wrong_password_fails_at_once_without_printing_it(make_app, app_env, database_url):
    bad = database_url.replace("://ocore:", "://ocore:Wr0ng-Pass", 1)
    assert bad != database_url
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        make_app({**app_env, "DATABASE_URL": bad, "DB_STARTUP_TIMEOUT": "20s"})
    assert time.monotonic() - started < 5, "a wrong password must not be retried until the deadline"
    assert "password authentication failed" in str(caught.value)
    assert "Wr0ng-Pass" not in str(caught.value)
    # Immediate, and said so: not "waited up to 20s".
    assert re.search(r"refused after [0-4]\.\ds \(not retried", str(caught.value))
    assert "20s" not in str(caught.value)


def test_missing_database_is_named(make_app, app_env, database_url):
    url = with_database(database_url, "no_such_db_xyz")
    with pytest.raises(ServiceUnavailable) as caught:
        make_app({**app_env, "DATABASE_URL": url, "DB_STARTUP_TIMEOUT": "5s"})
    assert 'database "no_such_db_xyz" does not exist' in str(caught.value)
    assert "refused after" in str(caught.value) and "database name" in str(caught.value)


def test_connection_budget_warning_names_the_settings(make_app, app_env, caplog):
    caplog.set_level(logging.WARNING, logger="ocore_database")
    make_app({**app_env, "DB_POOL_MAX_CONNS": "100", "WEB_CONCURRENCY": "64"})
    warnings = [r.getMessage() for r in caplog.records if r.name == "ocore_database"]
    assert any("DB_POOL_MAX_CONNS (100) x WEB_CONCURRENCY (64) = 6400" in w for w in warnings)


def test_no_budget_warning_within_capacity(make_app, app_env, caplog):
    caplog.set_level(logging.WARNING, logger="ocore_database")
    make_app(app_env)
    assert not [r for r in caplog.records if "WEB_CONCURRENCY" in r.getMessage()]


def test_close_returns_every_connection(make_app, app_env, database_url):
    from ocore_flask import close_app

    name = f"ocore_t_{uuid.uuid4().hex[:8]}"
    app = make_app(
        {
            **app_env,
            "DATABASE_URL": f"{database_url}?application_name={name}",
            "DB_POOL_MIN_CONNS": "2",
        }
    )
    assert backend_count(database_url, name) == 2
    close_app(app)
    deadline = time.monotonic() + 5
    while backend_count(database_url, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend_count(database_url, name) == 0
