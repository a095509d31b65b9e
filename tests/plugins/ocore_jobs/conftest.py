"""Fixtures for the jobs plugin: one migrated database per module with the test tasks' table,
its environment (short worker timings), in-process apps and CLI, and job-table cleanup.

Real worker processes come from the plugin's own kit (``ocore_jobs.testing``): the
``jobs_worker`` fixture, or a module's ``WorkerProcess`` shared by its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import Engine, text

from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, base_env
from ocore_jobs.testing import TEST_SETTINGS
from tests.plugins.ocore_jobs import sample

Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def jobs_db(module_database_url: str, module_engine: Engine) -> str:
    """The module's database, with the test tasks' table."""
    with module_engine.begin() as conn:
        conn.execute(text(sample.DDL))
    return module_database_url


@pytest.fixture(scope="module")
def jobs_env(jobs_db: str) -> dict[str, str]:
    """A development environment on the module's database with test worker timings."""
    return base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "HEALTH_CACHE_TTL": "0s",
            "DATABASE_URL": jobs_db,
            "DB_POOL_MIN_CONNS": "1",
            "DB_POOL_MAX_CONNS": "5",
            "LOG_LEVEL": "info",
            **TEST_SETTINGS,
        }
    )


@pytest.fixture
def clean(module_engine: Engine) -> Engine:
    """Empty job tables (jobs, events, errors) and test rows; workers stay registered."""
    with module_engine.begin() as conn:
        conn.execute(text("TRUNCATE procrastinate_jobs, jobtest_runs CASCADE"))
    return module_engine


@pytest.fixture
def jobs_app(make_app: Callable[..., Flask], jobs_env: dict[str, str]) -> Callable[..., Flask]:
    """``jobs_app(**variables)``: an in-process app with database, jobs and the test tasks."""

    def build(**variables: Any) -> Flask:
        env = {**jobs_env, **{k: str(v) for k, v in variables.items()}}
        return make_app(env, sample.app_plugins())

    return build


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, jobs_env: dict[str, str]) -> Invoke:
    """``cli("jobs", "list")``: ``ocore …`` in-process on the module's database with the
    test tasks (``flask --app`` style, so no entry point is needed for them)."""
    for name, value in jobs_env.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str) -> Result:
        factory = ScriptInfo(create_app=lambda: create_app(plugins=sample.app_plugins()))
        return CliRunner().invoke(ocore, list(args), obj=factory)

    return invoke
