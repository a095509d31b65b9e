"""Statuses (online within 3 intervals, stale up to 10, offline beyond, never, revoked) and
the ``agents`` health section in each state: counts, the stalest names, the oldest push;
degraded (never critical) while any agent is stale or offline; a clean fail without the
database or the table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

import ocore_agents
from ocore_agents.health import CONTRIBUTOR, SECTION
from ocore_agents.status import status_of
from ocore_agents.testing import (
    PLUGINS,
    create_server,
    push_body,
    register_agent,
    set_last_seen,
    truncate,
)
from ocore_auth.testing import create_user
from ocore_database.testing import admin, with_database
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, assert_contributor_conforms, rich_health

INTERVAL = timedelta(seconds=30)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "expected"),
    [(0, "online"), (90, "online"), (90.001, "stale"), (300, "stale"), (300.001, "offline")],
)
def test_status_thresholds(ago: float, expected: str) -> None:
    seen = NOW - timedelta(seconds=ago)
    assert status_of(seen, NOW, INTERVAL) == expected
    assert status_of(None, NOW, INTERVAL) == "never"
    assert status_of(seen, NOW, INTERVAL, revoked=True) == "revoked"


@pytest.fixture(scope="module", autouse=True)
def _an_admin(agents_app) -> None:
    """An enabled admin, so the auth section leaves the payload's status to this one."""
    create_user(agents_app, "status-admin@example.com", "admin")


@contextmanager
def database_refusing(url: str) -> Iterator[None]:
    """The app's database refuses every connection (existing ones ended) until the block ends."""
    name = urlsplit(url).path.lstrip("/")
    server = with_database(url, "postgres")
    admin(
        server,
        f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false",
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )
    try:
        yield
    finally:
        admin(server, f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")


def section(app) -> tuple[int, dict, dict]:
    status, payload = rich_health(app)
    return status, payload, payload["checks"][SECTION]


def statuses(app) -> dict[str, str]:
    return {a.server: a.status for a in ocore_agents.agents(app).list()}


def test_each_transition_in_the_list_and_in_health(agents_app) -> None:
    truncate(agents_app)
    _, payload, agents = section(agents_app)
    assert payload["status"] == "ok" and agents["status"] == "ok"
    assert agents["critical"] is False and agents["data"]["registered"] == 0

    register_agent(agents_app, "web1")
    assert statuses(agents_app) == {"web1": "never"}
    _, _, agents = section(agents_app)
    assert agents["status"] == "ok", "an agent that never pushed yet does not degrade health"
    assert (agents["data"]["never"], agents["data"]["oldest_last_seen"]) == (1, None)

    steps = [(0.0, "online", "ok"), (91.0, "stale", "degraded"), (301.0, "offline", "degraded")]
    for ago, expected, health in steps:
        set_last_seen(agents_app, "web1", ago)
        assert statuses(agents_app) == {"web1": expected}
        status, payload, agents = section(agents_app)
        assert status == 200, "not critical: never 503"
        assert agents["status"] == health and payload["status"] == health
        assert agents["data"][expected] == 1 and agents["data"]["registered"] == 1
        assert abs(agents["data"]["oldest_age_s"] - ago) < 5
        if health == "degraded":
            assert agents["message"] == f"agents 1 {expected}: web1"
            assert agents["data"]["worst"] == ["web1"]

    ocore_agents.agents(agents_app).revoke("web1")
    assert statuses(agents_app) == {"web1": "revoked"}
    _, _, agents = section(agents_app)
    assert agents["status"] == "ok", "a revoked agent is not expected to push"
    assert (agents["data"]["revoked"], agents["data"]["registered"]) == (1, 0)


def test_counts_and_the_worst_few_in_one_payload(agents_app) -> None:
    truncate(agents_app)
    ages = {"a1": 10, "a2": 100, "a3": 400, "a4": 1000, "a5": 95, "a6": None, "a7": 5000}
    for name, ago in ages.items():
        register_agent(agents_app, name)
        set_last_seen(agents_app, name, ago)
    for extra in ("b1", "b2"):
        register_agent(agents_app, extra)
        set_last_seen(agents_app, extra, 350)
    _, payload, agents = section(agents_app)
    data = agents["data"]
    assert {k: data[k] for k in ("registered", "online", "stale", "offline", "never")} == {
        "registered": 9,
        "online": 1,
        "stale": 2,
        "offline": 5,
        "never": 1,
    }
    assert data["worst"] == ["a7", "a4", "a3", "b1", "b2"], "stalest first, at most five"
    assert agents["message"] == "agents 5 offline and 2 stale: a7, a4, a3, b1, b2"
    assert abs(data["oldest_age_s"] - 5000) < 5
    assert data["push_interval_s"] == 30 and data["online_within_s"] == 90
    assert payload["status"] == "degraded"


def test_nothing_replayable_in_the_section(agents_app) -> None:
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    headers = {"Authorization": f"Bearer {agent.token}"}
    agents_app.test_client().post("/api/agents/push", json=push_body(), headers=headers)
    _, payload, _ = section(agents_app)
    assert agent.token not in json.dumps(payload)
    assert_contributor_conforms(
        CONTRIBUTOR, app=agents_app, secrets=[JWT_SECRET, HEALTH_TOKEN, agent.token]
    )


def test_a_database_outage_is_a_clean_fail(make_app, agents_env, database_url) -> None:
    app = make_app(
        {**agents_env, "DATABASE_URL": database_url, "DB_CONNECT_TIMEOUT": "1s"},
        list(PLUGINS),
    )
    create_server(app, "web1")
    ocore_agents.agents(app).register("web1")

    def refusing() -> Iterator[None]:
        return database_refusing(database_url)

    assert_contributor_conforms(CONTRIBUTOR, app=app, dependency_down=refusing)
    with refusing():
        status, _, agents = section(app)
    assert status == 503, "the database section fails; this one is not critical"
    assert agents["status"] == "fail" and agents["critical"] is False
    assert agents["message"].startswith("cannot read the agents: the database did not answer")
    assert section(app)[2]["status"] == "ok"  # back without a restart
    admin(database_url, "ALTER TABLE agents RENAME TO agents_gone")
    try:
        _, _, agents = section(app)
    finally:
        admin(database_url, "ALTER TABLE agents_gone RENAME TO agents")
    assert agents["status"] == "fail"
    assert agents["message"] == "the agents table is missing: run `ocore db upgrade`"
