"""Test kit of the agents plugin (a pytest plugin, entry point ``pytest11: ocore_agents``).

Fixtures: ``agents_env`` (a development environment on the module's database, health cache
off), ``agents_app`` (one app per module with database, vault, ssh, auth and agents) and
``agent`` (empty agents and servers tables, then server ``web1`` with a registered agent: a
``RegisteredAgent`` with its token). Helpers, for other suites and benchmarks::

    from ocore_agents.testing import create_server, register_agent, push_body, set_last_seen
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

import ocore_agents
import ocore_auth
import ocore_database
import ocore_ssh
import ocore_vault
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, base_env

CREDENTIAL = "agents-test-credential"
CREDENTIAL_PASSWORD = "agents-test-Pw4Kq9Zr"  # noqa: S105 (test-only, never used to log in)
PLUGINS = (
    ocore_database.plugin,
    ocore_vault.plugin,
    ocore_ssh.plugin,
    ocore_auth.plugin,
    ocore_agents.plugin,
)


@dataclass(frozen=True)
class RegisteredAgent:
    """A registered agent: its server and the token it pushes with."""

    server: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` (and JSON content type) headers of a push."""
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


def push_body(**overrides: Any) -> dict[str, Any]:
    """A valid push body like the reference agent's, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "version": "0.1.0",
        "hostname": "web1.example.com",
        "uptime_s": 86_400.5,
        "load": {"avg1": 0.25, "avg5": 0.5, "avg15": 0.75},
        "cpu": {"count": 2, "percent": 12.5},
        "memory": {
            "total_bytes": 4 * 2**30,
            "available_bytes": 3 * 2**30,
            "swap_total_bytes": 2**30,
            "swap_free_bytes": 2**30,
        },
        "disks": [{"path": "/", "total_bytes": 50 * 2**30, "free_bytes": 20 * 2**30}],
        "containers": [
            {"name": "web", "state": "running", "health": "healthy"},
            {"name": "worker", "state": "exited", "health": "none"},
        ],
    }
    body.update(overrides)
    return body


def create_server(app: Flask, name: str, host: str = "127.0.0.1") -> Any:
    """A managed server ``name`` in ``app``'s database (with a password credential)."""
    vault = ocore_vault.credentials(app)
    if CREDENTIAL not in {info.name for info in vault.list()}:
        vault.put(CREDENTIAL, "password", CREDENTIAL_PASSWORD, username="ocore")
    return ocore_ssh.ssh(app).servers.add(name, host, credential=CREDENTIAL)


def register_agent(app: Flask, server: str, *, create: bool = True) -> RegisteredAgent:
    """Register the agent of ``server`` (created first unless ``create`` is false)."""
    if create:
        create_server(app, server)
    issued = ocore_agents.agents(app).register(server)
    return RegisteredAgent(server, issued.token)


def truncate(app: Flask) -> None:
    """Empty the agents, servers and credentials tables of ``app``'s database."""
    with ocore_database.engine(app).begin() as conn:
        conn.execute(
            text("TRUNCATE agents, ssh_servers, vault_credentials RESTART IDENTITY CASCADE")
        )


def set_last_seen(app: Flask, server: str, ago: float | None) -> None:
    """Pretend ``server``'s agent last pushed ``ago`` seconds ago (None: never): statuses and
    the rate limit without waiting."""
    with ocore_database.engine(app).begin() as conn:
        conn.execute(
            text(
                "UPDATE agents SET last_seen = CASE WHEN CAST(:ago AS float8) IS NULL THEN NULL "
                "ELSE now() - make_interval(secs => :ago) END WHERE server = :server"
            ),
            {"ago": ago, "server": server},
        )


def build_agents_app(environ: Mapping[str, str]) -> Flask:
    """An app with the agents plugin and what it requires."""
    from ocore_flask.app import create_app

    return create_app(dict(environ), list(PLUGINS))


@pytest.fixture(scope="module")
def agents_env(module_database_url: str) -> dict[str, str]:
    """A valid development environment on the module's migrated database; health uncached."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "HEALTH_CACHE_TTL": "0s",
        "DATABASE_URL": module_database_url,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
        "LOG_LEVEL": "warning",
    }


#: the app of a server process with just the agents plugin and what it requires:
#: ``flask --app "ocore_agents.testing:server_app()" ocore serve``, or gunicorn with it
SERVER_APP = "ocore_agents.testing:server_app()"


def server_app() -> Flask:
    """App factory for server processes: the agents plugin and its requirements, configured
    from the process environment (other installed plugins are not loaded)."""
    return build_agents_app(os.environ)


def server_env(environ: Mapping[str, str], **variables: str) -> dict[str, str]:
    """A clean process environment (``base_env``) for a server process: ``environ`` and
    ``variables``."""
    return base_env({**environ, **variables})


@pytest.fixture(scope="module")
def agents_app(agents_env: dict[str, str]) -> Iterator[Flask]:
    """One app per module with database, vault, ssh, auth and agents."""
    from ocore_flask.app import close_app

    app = build_agents_app(agents_env)
    yield app
    close_app(app)


@pytest.fixture
def agent(agents_app: Flask) -> RegisteredAgent:
    """Empty tables, then server ``web1`` with a registered agent."""
    truncate(agents_app)
    return register_agent(agents_app, "web1")


__all__ = [
    "PLUGINS",
    "SERVER_APP",
    "RegisteredAgent",
    "build_agents_app",
    "create_server",
    "push_body",
    "register_agent",
    "server_app",
    "server_env",
    "set_last_seen",
    "truncate",
]
