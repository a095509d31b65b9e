"""``ocore db upgrade|current`` as an operator runs them."""

from __future__ import annotations

import json

from ocore_flask.testing import JWT_SECRET, base_env, run, script


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
    # No "schema behind ...; run `ocore db upgrade`" while running exactly that.
    assert "schema behind" not in upgraded.stderr and "Traceback" not in upgraded.stderr

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


def test_upgrade_json_reports_each_plugin(empty_database):
    env = base_env(
        {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET, "DATABASE_URL": empty_database}
    )
    upgraded = run([script("ocore"), "db", "upgrade", "--json"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    report = json.loads(upgraded.stdout)
    heads = json.loads(run([script("ocore"), "db", "current", "--json"], env).stdout)
    assert report["revision"] == "head" and report["upgraded"] == list(heads)
    assert report["plugins"] == {
        name: {"before": None, "after": rev["head"]} for name, rev in heads.items()
    }
    again = json.loads(run([script("ocore"), "db", "upgrade", "--json"], env).stdout)
    assert again["upgraded"] == [] and set(again["plugins"]) == set(heads)


def test_upgrade_shows_progress_per_plugin_on_a_terminal(empty_database, monkeypatch):
    from click.testing import CliRunner

    from ocore_flask.cli import kit, ocore

    for name, value in {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": empty_database,
        "LOG_LEVEL": "warning",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(kit, "_stderr_is_terminal", lambda: True)
    result = CliRunner().invoke(ocore, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("db upgrade: ")]
    total = len(lines)
    assert total >= 2, result.stderr  # the vault's and the SSH plugin's migrations at least
    for i, line in enumerate(lines, 1):
        assert " empty -> " in line and line.endswith(f"({i}/{total})"), line
    assert len(result.stdout.splitlines()) == total  # "plugin: empty -> rev" per plugin
