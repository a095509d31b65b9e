"""The ``ocore_flask`` pytest plugin (entry point ``pytest11``): environments and apps.

pytest imports this module at startup in every run, so it stays light: Flask and the app
factory load inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import pytest

from ocore_flask.testing.environ import HEALTH_TOKEN, KEEP, dev_environ, isolated, strict_environ

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient


@pytest.fixture(scope="session")
def ocore_state_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A per-session ``XDG_STATE_HOME``, so tests never write state (the secret-fingerprint
    key) into the developer's home directory."""
    return str(tmp_path_factory.mktemp("xdg-state"))


@pytest.fixture
def isolated_environ(ocore_state_home: str) -> Iterator[MutableMapping[str, str]]:
    """``os.environ`` holding only ``KEEP`` (and a session's own ``XDG_STATE_HOME``) during the
    test, restored afterwards. Not autouse: a suite turns it on for every test with an autouse
    fixture in its root conftest."""
    with isolated(KEEP) as environ:
        environ["XDG_STATE_HOME"] = ocore_state_home
        yield environ


@pytest.fixture
def dev_env() -> dict[str, str]:
    """A minimal valid development environment (host settings only)."""
    return dev_environ()


@pytest.fixture
def strict_env() -> dict[str, str]:
    """A complete, valid production environment (host settings only, no plugin's)."""
    return strict_environ()


@pytest.fixture(name="make_app")
def make_app_fixture() -> Iterator[Callable[..., Flask]]:
    """``make_app(environ, plugins=None)`` builds apps (``plugins=None``: every installed
    plugin) that are closed, newest first, after the test."""
    from ocore_flask import close_app, create_app

    apps: list[Flask] = []

    def build(environ: dict[str, str], plugins: list[Any] | None = None) -> Flask:
        app = create_app(environ, plugins)
        apps.append(app)
        return app

    yield build
    for app in reversed(apps):
        close_app(app)


@pytest.fixture
def app_plugins() -> list[Any] | None:
    """The plugins the ``app`` fixture builds its app with: none here; a suite overrides this
    fixture (``return [my_plugin]``; ``None``: every installed plugin)."""
    return []


@pytest.fixture
def app(make_app: Callable[..., Flask], app_plugins: list[Any] | None) -> Flask:
    """An app with ``app_plugins`` in a development environment with a health token (so
    ``rich_health(app)`` works), closed after the test. Override it for other settings."""
    return make_app(dev_environ(HEALTH_CHECK_TOKEN=HEALTH_TOKEN), app_plugins)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app`` (the kit's, or the suite's own ``app`` fixture)."""
    return app.test_client()


@pytest.fixture(name="rich_health")
def rich_health_fixture() -> Callable[[Flask], tuple[int, dict[str, Any]]]:
    """``rich_health(app) -> (status, payload)``: GET /api/health with the app's token."""
    from ocore_flask.testing.apps import rich_health

    return rich_health
