"""Every JOBS_* setting: defaults for a small installation, valid values, a clear problem naming
the variable for bad input, the heartbeat/stall rule, and the worker in the connection budget."""

from __future__ import annotations

import logging

import pytest

import ocore_jobs
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET
from ocore_jobs.settings import SETTINGS, JobsSettings, describe, worker_connections

DEFAULTS = {
    "JOBS_CONCURRENCY": "4",
    "JOBS_QUEUES": "None",
    "JOBS_WORKER_POOL_SIZE": "2",
    "JOBS_POLL_INTERVAL": "5s",
    "JOBS_HEARTBEAT_INTERVAL": "10s",
    "JOBS_STALL_THRESHOLD": "30s",
    "JOBS_SHUTDOWN_TIMEOUT": "30s",
    "JOBS_RETENTION": "168h0m0s",
    "JOBS_HEALTH_MAX_WAIT": "5m0s",
}


def resolved(mode: str = "development", **variables: str) -> Config:
    environ = {"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET, **variables}
    if mode != "development":
        environ["APP_URL"] = "https://ocore.example.com"
    found = load_plugins(environ, [ocore_jobs.plugin])
    return resolve(environ, found.settings, found.cross_rules)


def problems(config: Config) -> dict[str, str]:
    return {p.variable: p.message for p in config.report.problems if p.level == "error"}


def test_every_setting_is_documented_and_defaults_suit_a_small_installation():
    assert [s.name for s in SETTINGS] == list(DEFAULTS)
    assert all(s.description and s.example and not s.secret for s in SETTINGS)
    for mode in ("development", "production"):
        config = resolved(mode)
        assert not problems(config), config.report.render_text()
        assert {s.name: str(config[s.name]) for s in SETTINGS} == DEFAULTS


def test_valid_values_reach_the_section():
    config = resolved(
        JOBS_CONCURRENCY="8",
        JOBS_QUEUES="default, ssh,default",
        JOBS_WORKER_POOL_SIZE="3",
        JOBS_HEARTBEAT_INTERVAL="2s",
        JOBS_STALL_THRESHOLD="4s",
        JOBS_RETENTION="24h",
    )
    assert not problems(config)
    section = config.section(JobsSettings)
    assert section.queues == ("default", "ssh")
    assert describe(section)["heartbeat_interval_s"] == 2.0
    assert worker_connections(section) == {
        "one `ocore worker` (JOBS_WORKER_POOL_SIZE 3 + LISTEN 1 + JOBS_CONCURRENCY 8)": 12
    }


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("JOBS_CONCURRENCY", "0", "whole number from 1 to 64"),
        ("JOBS_CONCURRENCY", "four", "whole number"),
        ("JOBS_QUEUES", "Default", "not one: 'Default'"),
        ("JOBS_QUEUES", ",,", "at least one queue"),
        ("JOBS_WORKER_POOL_SIZE", "33", "from 1 to 32"),
        ("JOBS_POLL_INTERVAL", "10ms", "from 50ms to 5m"),
        ("JOBS_HEARTBEAT_INTERVAL", "10", "Go duration"),
        ("JOBS_STALL_THRESHOLD", "2h", "from 500ms to 1h"),
        ("JOBS_SHUTDOWN_TIMEOUT", "0s", "greater than zero"),
        ("JOBS_RETENTION", "30s", "from 1m to 87600h"),
        ("JOBS_HEALTH_MAX_WAIT", "-1m", "greater than zero"),
    ],
)
def test_bad_values_name_the_variable_and_the_rule(name: str, raw: str, fragment: str):
    found = problems(resolved(**{name: raw}))
    assert list(found) == [name] and fragment in found[name], found


def test_the_stall_threshold_must_cover_two_heartbeats():
    found = problems(resolved(JOBS_HEARTBEAT_INTERVAL="10s", JOBS_STALL_THRESHOLD="15s"))
    assert "at least twice JOBS_HEARTBEAT_INTERVAL (10s)" in found["JOBS_STALL_THRESHOLD"]
    assert not problems(resolved(JOBS_HEARTBEAT_INTERVAL="10s", JOBS_STALL_THRESHOLD="20s"))


def test_the_connection_budget_warning_counts_a_worker(make_app, jobs_env, caplog):
    import ocore_database

    caplog.set_level(logging.WARNING, logger="ocore_database")
    make_app(
        {**jobs_env, "DB_POOL_MAX_CONNS": "130", "WEB_CONCURRENCY": "2", "JOBS_CONCURRENCY": "60"},
        [ocore_database.plugin, ocore_jobs.plugin],
    )
    (warning,) = [r.getMessage() for r in caplog.records if "WEB_CONCURRENCY" in r.getMessage()]
    assert "DB_POOL_MAX_CONNS (130) x WEB_CONCURRENCY (2) = 260 connections + 63 for one " in (
        warning
    )
    assert "(JOBS_WORKER_POOL_SIZE 2 + LISTEN 1 + JOBS_CONCURRENCY 60) = 323 in all" in warning
