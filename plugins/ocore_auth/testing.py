"""Test kit of the auth plugin (a pytest plugin, entry point ``pytest11: ocore_auth``).

Fixtures: ``auth_env`` (a development environment on the module's database), ``auth_app`` (an
app with the database and auth plugins, one per module) with ``auth_client``, and ``users``
(a ``UserFactory``: users created in the app's database, with ready bearer headers). Every test
that uses ``users`` starts with empty auth tables.

Helpers, for other plugins' suites (agents, gateway…) and benchmarks::

    from ocore_auth.testing import TEST_PASSWORD, bearer, create_user, login
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

import ocore_auth
import ocore_database
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET

TEST_PASSWORD = "test-password-4Kq9"  # noqa: S105 (test-only, recognisable in output)
AUTH_TABLES = (
    "auth_challenges",
    "auth_passkeys",
    "auth_refresh_tokens",
    "auth_users",
    "auth_throttle",
)


def create_user(app: Flask, email: str, role: str = "viewer", password: str = TEST_PASSWORD) -> Any:
    """A user in ``app``'s database (Argon2id-hashed like any other)."""
    return ocore_auth.auth(app).add_user(email, role, password)


def bearer(app: Flask, user: Any) -> dict[str, str]:
    """``Authorization`` headers with a fresh access token of ``user`` (no password work)."""
    tokens = ocore_auth.auth(app).sign_in(user)
    return {"Authorization": f"Bearer {tokens.access_token}"}


def login(client: Any, email: str, password: str = TEST_PASSWORD) -> Any:
    """POST /api/auth/login through a test client; the response."""
    return client.post("/api/auth/login", json={"email": email, "password": password})


def truncate(app: Flask) -> None:
    """Empty every auth table of ``app``'s database."""
    with ocore_database.engine(app).begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(AUTH_TABLES)} RESTART IDENTITY CASCADE"))


class UserFactory:
    """Creates users in one app and hands out their bearer headers."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, email: str, role: str = "viewer", password: str = TEST_PASSWORD) -> Any:
        """A new user."""
        return create_user(self.app, email, role, password)

    def headers(self, role: str = "viewer", email: str | None = None) -> dict[str, str]:
        """Bearer headers of a new user with ``role``."""
        user = self(email or f"{role}-{id(object())}@example.com", role)
        return bearer(self.app, user)


@pytest.fixture(scope="module")
def auth_env(module_database_url: str) -> dict[str, str]:
    """A valid development environment on the module's migrated database."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "DATABASE_URL": module_database_url,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
    }


def build_auth_app(environ: Mapping[str, str], extra: list[Any] | None = None) -> Flask:
    """An app with the database and auth plugins (and ``extra`` ones)."""
    from ocore_flask.app import create_app

    return create_app(dict(environ), [ocore_database.plugin, ocore_auth.plugin, *(extra or [])])


@pytest.fixture(scope="module")
def auth_app(auth_env: dict[str, str]) -> Iterator[Flask]:
    """One app per module with the database and auth plugins."""
    from ocore_flask.app import close_app

    app = build_auth_app(auth_env)
    yield app
    close_app(app)


@pytest.fixture
def auth_client(auth_app: Flask) -> Any:
    """A test client of ``auth_app``."""
    return auth_app.test_client()


@pytest.fixture
def users(auth_app: Flask) -> UserFactory:
    """Empty auth tables, then a factory of users in ``auth_app``."""
    truncate(auth_app)
    ocore_auth.auth(auth_app).forget()
    return UserFactory(auth_app)
