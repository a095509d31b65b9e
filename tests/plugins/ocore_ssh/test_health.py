"""The ``ssh_pool`` section of the rich ``/api/health`` payload: the pool's numbers, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocore_flask.testing import HEALTH_TOKEN
from ocore_ssh import ssh
from ocore_ssh.health import summarise
from ocore_ssh.pool import AuthFailed
from ocore_ssh.testing import Sshd
from ocore_vault import credentials

AUTH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def rich(app) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/api/health", headers=AUTH)
    return response.status_code, response.json


def test_an_idle_pool_is_ok_and_not_critical(ssh_app):
    app = ssh_app()
    status, payload = rich(app)
    section = payload["checks"]["ssh_pool"]
    assert status == 200 and section["status"] == "ok" and section["critical"] is False
    assert section["data"] == {
        "open": 0,
        "in_use": 0,
        "idle": 0,
        "connection_failures": 0,
        "max_per_host": 4,
        "servers": {},
        "last_checks": {},
    }
    assert app.test_client().get("/api/health").data == b'{"status":"ok"}'


def test_open_in_use_idle_and_the_last_error_per_server(
    ssh_app, sshd: Sshd, add_password_server, ssh_secrets
):
    app = ssh_app(SSH_POOL_MAX_PER_HOST="3")
    service, vault = ssh(app), credentials(app)
    add_password_server(app, vault, sshd, name="web1")
    add_password_server(app, vault, sshd, name="badpw", password=ssh_secrets.wrong_password)
    with service.connection("web1"), service.connection("web1"):
        service.run("web1", "true")  # a third connection, idle again afterwards
        before = sshd.established_connections()
        _, payload = rich(app)
        assert sshd.established_connections() == before  # reading the pool opened nothing
    data = payload["checks"]["ssh_pool"]["data"]
    assert (data["open"], data["in_use"], data["idle"], data["max_per_host"]) == (3, 2, 1, 3)
    assert data["servers"]["web1"] == {
        "open": 3,
        "in_use": 2,
        "idle": 1,
        "failures": 0,
        "last_error": None,
        "last_error_at": None,
    }

    for _ in range(2):
        with pytest.raises(AuthFailed):
            service.run("badpw", "true")
    status, payload = rich(app)
    section = payload["checks"]["ssh_pool"]
    assert status == 200 and payload["status"] == "degraded"  # not critical: still serving
    assert section["status"] == "degraded"
    assert section["message"] == "connection failures in the last 5m: badpw"
    data = section["data"]
    assert data["connection_failures"] == 2
    assert (data["open"], data["in_use"], data["idle"]) == (3, 0, 3)
    bad = data["servers"]["badpw"]
    assert (bad["open"], bad["failures"]) == (0, 2)
    assert bad["last_error"].startswith("authentication failed for server 'badpw'")
    assert ZULU.match(bad["last_error_at"])
    assert ssh_secrets.wrong_password not in str(payload) and sshd.password not in str(payload)


def test_old_failures_age_out_and_a_closed_pool_is_degraded():
    stats = {
        "open": 1,
        "in_use": 0,
        "idle": 1,
        "connection_failures": 1,
        "max_per_host": 4,
        "closed": False,
        "servers": {
            "web1": {
                "open": 1,
                "in_use": 0,
                "idle": 1,
                "connecting": 0,
                "failures": 1,
                "last_error": "cannot connect to server 'web1': refused",
                "last_error_at": "2026-01-01T10:00:00+00:00",
            }
        },
    }
    moment = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert summarise(stats, moment + timedelta(minutes=4)).status == "degraded"
    later = summarise(stats, moment + timedelta(minutes=6))
    assert later.status == "ok"
    assert later.data["servers"]["web1"]["last_error_at"] == "2026-01-01T10:00:00.000Z"
    closed = summarise({**stats, "closed": True}, moment + timedelta(hours=1))
    assert (closed.status, closed.message) == ("degraded", "the SSH pool is closed")
