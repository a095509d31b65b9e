"""``ocore db upgrade|current`` as an operator runs them."""

from __future__ import annotations

import json

from tests.conftest import JWT_SECRET
from tests.support.processes import base_env, run, script


def test_upgrade_then_current_on_an_empty_database(empty_database):
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": empty_database,
        }
    )
    before = run([script("ocore"), "db", "current", "--json"], env)
    assert before.returncode == 1, before.stderr
    behind = json.loads(before.stdout)
    assert behind and all(rev["current"] is None for rev in behind.values())

    upgraded = run([script("ocore"), "db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert all(f"{name}: empty -> " in upgraded.stdout for name in behind)

    after = run([script("ocore"), "db", "current", "--json"], env)
    assert after.returncode == 0, after.stderr
    assert all(rev["current"] == rev["head"] for rev in json.loads(after.stdout).values())

    again = run([script("ocore"), "db", "upgrade"], env)
    assert again.returncode == 0 and "schema up to date" in again.stdout


def test_db_commands_report_an_invalid_configuration_with_78():
    result = run([script("ocore"), "db", "current"], base_env({"ENVIRONMENT": "development"}))
    assert result.returncode == 78
    assert "JWT_SECRET" in result.stderr and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_69_with_a_clear_line(pg_server):
    url = "postgresql://ocore:Hidden-Pa55@127.0.0.1:9/ocore"
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": url,
            "DB_STARTUP_TIMEOUT": "1s",
        }
    )
    result = run([script("ocore"), "db", "current"], env)
    assert result.returncode == 69
    assert "cannot use PostgreSQL at 127.0.0.1:9/ocore" in result.stderr
    assert "Hidden-Pa55" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
