"""The ``auth`` section of the rich ``/api/health``: users, enabled admins and live sessions
(refresh families) from one cheap query; degraded without an enabled admin; never critical;
a clean ``fail`` when the database is away; nothing that could be replayed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

import ocore_auth
import ocore_database
from ocore_auth.health import CONTRIBUTOR, SECTION
from ocore_auth.testing import TEST_PASSWORD, create_user, login
from ocore_database.testing import admin, with_database
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, assert_contributor_conforms, rich_health

NO_ADMIN = "no enabled admin: create one with `ocore users add EMAIL --role admin`"


@pytest.fixture(scope="module")
def auth_env(auth_env: dict[str, str]) -> dict[str, str]:
    """The kit's environment with the health cache off: every request runs the contributor."""
    return {**auth_env, "HEALTH_CACHE_TTL": "0s"}


def section(app) -> tuple[int, dict, dict]:
    """(HTTP status, whole rich payload, the auth section)."""
    status, payload = rich_health(app)
    return status, payload, payload["checks"][SECTION]


def test_ok_with_an_enabled_admin_and_not_critical(users, auth_app) -> None:
    users("root@example.com", "admin")
    users("ops@example.com", "operator")
    status, payload, auth = section(auth_app)
    assert status == 200 and payload["status"] == "ok"
    assert auth["status"] == "ok" and auth["critical"] is False
    assert auth["data"] == {"users": 2, "admins": 1, "active_sessions": 0}
    assert "message" not in auth or auth["message"] is None
    anonymous = auth_app.test_client().get("/api/health")
    assert anonymous.data == b'{"status":"ok"}'


@pytest.mark.parametrize("who", ["nobody", "an operator", "a disabled admin"])
def test_degraded_without_an_enabled_admin_yet_still_200(users, auth_app, who: str) -> None:
    expected = {"users": 0, "admins": 0, "active_sessions": 0}
    if who == "an operator":
        users("ops@example.com", "operator")
        expected["users"] = 1
    elif who == "a disabled admin":
        users("root@example.com", "admin")
        ocore_auth.auth(auth_app).set_disabled("root@example.com", True)
        expected["users"] = 1
    status, payload, auth = section(auth_app)
    assert status == 200, "not critical: a missing admin never makes the server unhealthy"
    assert payload["status"] == "degraded"
    assert auth["status"] == "degraded" and auth["critical"] is False
    assert auth["message"] == NO_ADMIN
    assert auth["data"] == expected


def test_enabling_the_admin_again_makes_it_ok(users, auth_app) -> None:
    users("root@example.com", "admin")
    service = ocore_auth.auth(auth_app)
    service.set_disabled("root@example.com", True)
    assert section(auth_app)[2]["status"] == "degraded"
    service.set_disabled("root@example.com", False)
    assert section(auth_app)[2]["status"] == "ok"
    service.set_role("root@example.com", "viewer")
    assert section(auth_app)[2]["status"] == "degraded"


def test_active_sessions_count_live_refresh_families(users, auth_app) -> None:
    users("root@example.com", "admin")
    client = auth_app.test_client(use_cookies=False)

    def sessions() -> int:
        return section(auth_app)[2]["data"]["active_sessions"]

    first = login(client, "root@example.com").get_json()
    second = login(client, "root@example.com").get_json()
    assert sessions() == 2
    out = client.post("/api/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert out.status_code in (200, 204), out.get_data(as_text=True)
    assert sessions() == 1
    rotated = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert rotated.status_code == 200
    assert sessions() == 1, "a rotation keeps its family: still one session"
    again = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401  # reuse: the whole family is revoked
    assert sessions() == 0
    login(client, "root@example.com")
    ocore_auth.auth(auth_app).revoke("root@example.com")
    assert sessions() == 0
    assert section(auth_app)[2]["data"]["users"] == 1


def test_nothing_replayable_in_the_section_or_the_payload(users, auth_app) -> None:
    users("root@example.com", "admin")
    tokens = login(auth_app.test_client(use_cookies=False), "root@example.com").get_json()
    _, payload, auth = section(auth_app)
    text = json.dumps(payload)
    for secret in (tokens["access_token"], tokens["refresh_token"], TEST_PASSWORD, "$argon2"):
        assert secret not in text
    assert "root@example.com" not in text  # counts only, no address
    assert set(auth["data"]) == {"users", "admins", "active_sessions"}


def test_the_contributor_conforms(users, auth_app) -> None:
    users("root@example.com", "admin")
    tokens = login(auth_app.test_client(use_cookies=False), "root@example.com").get_json()
    assert_contributor_conforms(
        CONTRIBUTOR,
        app=auth_app,
        secrets=[
            JWT_SECRET,
            HEALTH_TOKEN,
            TEST_PASSWORD,
            tokens["access_token"],
            tokens["refresh_token"],
        ],  # fmt: skip
    )


@contextmanager
def database_refusing(url: str) -> Iterator[None]:
    """The app's database refuses every connection (existing ones are ended) until the block
    ends: what an outage of that database looks like to the app."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
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


def test_a_database_outage_is_a_clean_fail_not_an_exception(make_app, auth_env, database_url):
    app = make_app(
        {**auth_env, "DATABASE_URL": database_url, "DB_CONNECT_TIMEOUT": "1s"},
        [ocore_database.plugin, ocore_auth.plugin],
    )
    create_user(app, "root@example.com", "admin")
    assert_contributor_conforms(
        CONTRIBUTOR,
        app=app,
        secrets=[JWT_SECRET, HEALTH_TOKEN],
        dependency_down=lambda: database_refusing(database_url),
    )
    with database_refusing(database_url):
        status, payload, auth = section(app)
    assert status == 503 and payload["checks"]["database"]["status"] == "fail"
    assert auth["status"] == "fail" and auth["critical"] is False
    assert auth["message"].startswith("cannot count users: the database did not answer")
    assert section(app)[2]["status"] == "ok"  # back without a restart


def test_missing_tables_name_the_fix(make_app, auth_env, database_url):
    app = make_app(
        {**auth_env, "DATABASE_URL": database_url},
        [ocore_database.plugin, ocore_auth.plugin],
    )
    admin(database_url, "ALTER TABLE auth_users RENAME TO auth_users_gone")
    try:
        _, _, auth = section(app)
    finally:
        admin(database_url, "ALTER TABLE auth_users_gone RENAME TO auth_users")
    assert auth["status"] == "fail"
    assert auth["message"] == "the auth tables are missing: run `ocore db upgrade`"
