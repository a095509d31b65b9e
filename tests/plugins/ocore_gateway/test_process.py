"""The gateway process's life: the health section before, during and after it runs, the idle
timeout, a graceful SIGTERM with a session open, and ``ocore dev`` starting it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text

import ocore_database
import ocore_gateway
from ocore_flask.testing import (
    HEALTH_TOKEN,
    JWT_SECRET,
    assert_contributor_conforms,
    free_port,
    rich_health,
    wait_for,
)
from ocore_gateway.health import CONTRIBUTOR
from ocore_gateway.testing import HOST, VAULT_KEY, GatewayProcess, gateway_plugins

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture(scope="module")
def gateway_env(gateway_env: dict[str, str]) -> dict[str, str]:
    """The kit's environment with a 1s idle timeout."""
    return {**gateway_env, "SSH_GATEWAY_IDLE_TIMEOUT": "1s"}


def section(app) -> dict:
    status, payload = rich_health(app)
    assert status == 200  # never critical: the web service stays up whatever the gateway does
    return payload["checks"]["ssh_gateway"]


def test_disabled_is_ok_and_says_so(make_app, gateway_env: dict[str, str]):
    app = make_app({**gateway_env, "SSH_GATEWAY_ENABLED": "false"}, gateway_plugins())
    found = section(app)
    assert found["status"] == "ok" and found["critical"] is False
    assert found["data"]["state"] == "disabled"


def test_enabled_without_a_gateway_process_fails(gateway_app):
    found = section(gateway_app)
    assert found["status"] == "fail"
    assert "no gateway process has ever run" in found["message"]


def test_a_running_gateway_is_fresh(gateway: GatewayProcess, gateway_app):
    assert wait_for(lambda: section(gateway_app)["status"] == "ok", timeout=10)
    data = section(gateway_app)["data"]
    assert data["state"] == "running" and data["active_sessions"] == 0
    assert data["version"] and data["pid"] != 0
    assert_contributor_conforms(
        CONTRIBUTOR, app=gateway_app, secrets=[VAULT_KEY, JWT_SECRET, HEALTH_TOKEN]
    )


def test_an_idle_connection_is_closed(gateway: GatewayProcess, gateway_users):
    user = gateway_users("admin")
    started = time.monotonic()
    done = gateway.ssh(user.key, "web1", "sleep 20")
    assert time.monotonic() - started < 10
    assert done.returncode == 255
    assert "ocore gateway: idle for 1s, closing" in done.stderr.decode()


def test_sigterm_lets_sessions_finish_then_closes_them(
    gateway: GatewayProcess, gateway_users, gateway_app
):
    user = gateway_users("admin")
    busy = subprocess.Popen(
        gateway.ssh_argv(user.key, "web1", "while true; do echo tick; sleep 0.3; done"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert busy.stdout is not None and busy.stdout.readline() == b"tick\n"  # the session runs
    started = time.monotonic()
    assert gateway.stop() == 0
    waited = time.monotonic() - started
    out, err = busy.communicate(timeout=10)
    assert out.startswith(b"tick\n") and busy.returncode == 255, err
    assert 1.5 < waited < 10, (
        gateway.output
    )  # SSH_GATEWAY_SHUTDOWN_TIMEOUT=2s, then the connection is closed
    assert "ocore gateway: the gateway is shutting down" in err.decode(), gateway.output
    assert "stopped (SIGTERM)" in gateway.output

    (row,) = ocore_gateway.gateway(gateway_app).audit.latest(1)
    assert row.user_email == user.email and row.ended_at is not None and row.bytes_out > 0
    found = section(gateway_app)
    assert found["status"] == "fail" and found["data"]["state"] == "stopped"


def test_a_stale_heartbeat_fails(gateway_app):
    with ocore_database.engine(gateway_app).begin() as conn:
        conn.execute(
            text(
                "UPDATE gateway_heartbeats"
                " SET stopped_at = NULL, beat_at = now() - interval '1 minute'"
            )
        )
    found = section(gateway_app)
    assert found["status"] == "fail"
    assert found["data"]["state"] == "stale"
    assert "older than 3s" in found["message"]


def test_ocore_dev_starts_and_stops_it(gateway_env: dict[str, str], tmp_path: Path):
    from ocore_gateway.dev import dev_services

    with dev_services({**gateway_env, "SSH_GATEWAY_ENABLED": "false"}, tmp_path, None) as shared:
        assert shared == {}
    port = free_port()
    env = {**gateway_env, "SSH_LISTEN_ADDR": f"{HOST}:{port}"}
    with dev_services(env, tmp_path, None):
        assert wait_for(lambda: _greets(port), timeout=20)
    assert not _greets(port)


def _greets(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-ocore_gateway")
    except OSError:
        return False
