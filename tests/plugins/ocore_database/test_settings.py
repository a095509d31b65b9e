"""The database plugin's settings through the loader: DATABASE_URL, the pool bounds and timings."""

from __future__ import annotations

import pytest

import ocore_database
from ocore_database import settings as db_settings
from ocore_flask.config import Config, Secret, resolve
from ocore_flask.discovery import load_plugins

PASSWORD = "S3cr3t-P@ss"
URL = "postgres://ocore:S3cr3t-P%40ss@db:5432/ocore?sslmode=disable"
DURATIONS = {
    "DB_POOL_MAX_CONN_LIFETIME": "1h0m0s",
    "DB_POOL_MAX_CONN_IDLE_TIME": "30m0s",
    "DB_POOL_HEALTH_CHECK_PERIOD": "1m0s",
    "DB_POOL_ACQUIRE_TIMEOUT": "5s",
    "DB_CONNECT_TIMEOUT": "5s",
    "DB_STARTUP_TIMEOUT": "15s",
}


def resolve_db(environ: dict[str, str]) -> Config:
    found = load_plugins(environ, [ocore_database.plugin])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def errors(config: Config, name: str) -> list[str]:
    return [p.message for p in config.report.errors if p.variable == name]


@pytest.fixture(params=["development", "production"])
def env(request, dev_env, strict_env) -> dict[str, str]:
    base = dev_env if request.param == "development" else strict_env
    return {**base, "DATABASE_URL": URL}


def test_declared_names_and_owner() -> None:
    names = [s.name for s in db_settings.SETTINGS]
    assert names[:3] == ["DATABASE_URL", "DB_POOL_MIN_CONNS", "DB_POOL_MAX_CONNS"]
    assert set(DURATIONS) <= set(names)
    found = load_plugins({}, [ocore_database.plugin])
    owners = {s.name: s.owner for s in found.settings}
    assert all(owners[name] == "database" for name in names)


def test_defaults(env) -> None:
    config = resolve_db(env)
    assert config.report.ok, config.report.render_text()
    assert config["DB_POOL_MIN_CONNS"] == 2 and config["DB_POOL_MAX_CONNS"] == 25
    assert {name: str(config[name]) for name in DURATIONS} == DURATIONS


# --- DATABASE_URL -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["development", "staging", "production"])
def test_database_url_is_required_in_every_mode(mode: str) -> None:
    config = resolve_db({"ENVIRONMENT": mode})
    (message,) = errors(config, "DATABASE_URL")
    assert "required but not set" in message and "postgres://" in message


@pytest.mark.parametrize(("raw", "what"), [("", "set but empty"), ("  ", "only whitespace")])
def test_database_url_empty_or_blank(env, raw: str, what: str) -> None:
    (message,) = errors(resolve_db({**env, "DATABASE_URL": raw}), "DATABASE_URL")
    assert what in message


def test_database_url_with_surrounding_whitespace(env) -> None:
    config = resolve_db({**env, "DATABASE_URL": URL + "\n"})
    (message,) = errors(config, "DATABASE_URL")
    assert "leading or trailing whitespace" in message
    assert PASSWORD not in config.report.render_text()


def test_database_url_is_a_secret_shown_redacted(env) -> None:
    config = resolve_db(env)
    value = config["DATABASE_URL"]
    assert isinstance(value, Secret)
    assert value.reveal().password == PASSWORD
    assert config.describe("DATABASE_URL") == "postgres://ocore:***@db:5432/ocore?sslmode=disable"
    assert PASSWORD in config.secret_values() and URL in config.secret_values()
    assert "S3cr3t" not in repr(value) + str(value)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("mysql://ocore:pw@db/ocore", "postgres:// or postgresql://"),
        ("postgres:///ocore", "no host"),
        ("postgres://db", "no database"),
        ("postgres://db/ocore?sslmode=sometimes", "sslmode"),
        (f"postgres://ocore:{PASSWORD}@db/ocore", "URL-encode"),
    ],
)
def test_bad_database_urls_are_reported_without_the_value(env, raw: str, hint: str) -> None:
    config = resolve_db({**env, "DATABASE_URL": raw})
    (message,) = errors(config, "DATABASE_URL")
    assert hint in message
    assert raw not in message and "got" not in message
    assert "S3cr3t" not in config.report.render_text()


def test_the_examples_placeholder_password_is_rejected(env) -> None:
    example = next(s.example for s in db_settings.SETTINGS if s.name == "DATABASE_URL")
    (message,) = errors(resolve_db({**env, "DATABASE_URL": example}), "DATABASE_URL")
    assert "placeholder" in message


# --- pool bounds --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["-1", "-10"])
def test_min_conns_negative(env, raw: str) -> None:
    (message,) = errors(resolve_db({**env, "DB_POOL_MIN_CONNS": raw}), "DB_POOL_MIN_CONNS")
    assert "whole number from 0" in message


def test_min_conns_zero_is_allowed(env) -> None:
    assert resolve_db({**env, "DB_POOL_MIN_CONNS": "0"})["DB_POOL_MIN_CONNS"] == 0


@pytest.mark.parametrize("raw", ["0", "-1", "-25"])
def test_max_conns_zero_or_negative(env, raw: str) -> None:
    (message,) = errors(resolve_db({**env, "DB_POOL_MAX_CONNS": raw}), "DB_POOL_MAX_CONNS")
    assert "whole number from 1" in message


@pytest.mark.parametrize("name", ["DB_POOL_MIN_CONNS", "DB_POOL_MAX_CONNS"])
@pytest.mark.parametrize("raw", ["two", "2.5", "0x10", "1e2"])
def test_pool_bounds_malformed(env, name: str, raw: str) -> None:
    (message,) = errors(resolve_db({**env, name: raw}), name)
    assert "whole number" in message and f"(got {raw!r})" in message


def test_max_below_min_is_an_error_on_max(env) -> None:
    config = resolve_db({**env, "DB_POOL_MIN_CONNS": "10", "DB_POOL_MAX_CONNS": "5"})
    assert [p.variable for p in config.report.errors] == ["DB_POOL_MAX_CONNS"]
    (message,) = errors(config, "DB_POOL_MAX_CONNS")
    assert "at least DB_POOL_MIN_CONNS (10)" in message and "5" in message


def test_max_below_the_default_min_is_an_error(env) -> None:
    assert errors(resolve_db({**env, "DB_POOL_MAX_CONNS": "1"}), "DB_POOL_MAX_CONNS")


def test_max_equal_to_min_is_fine(env) -> None:
    config = resolve_db({**env, "DB_POOL_MIN_CONNS": "7", "DB_POOL_MAX_CONNS": "7"})
    assert config.report.ok


def test_bounds_rule_waits_for_valid_bounds(env) -> None:
    config = resolve_db({**env, "DB_POOL_MIN_CONNS": "-3", "DB_POOL_MAX_CONNS": "1"})
    assert [p.variable for p in config.report.errors] == ["DB_POOL_MIN_CONNS"]


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("raw", ["0", "0s", "-1m"])
def test_pool_durations_must_be_positive(env, name: str, raw: str) -> None:
    (message,) = errors(resolve_db({**env, name: raw}), name)
    assert "greater than zero" in message


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("raw", ["30", "1 h", "an hour"])
def test_pool_durations_malformed(env, name: str, raw: str) -> None:
    (message,) = errors(resolve_db({**env, name: raw}), name)
    assert "Go duration" in message and "ns, us, ms, s, m, h" in message


def test_pool_durations_take_go_syntax(env) -> None:
    config = resolve_db({**env, "DB_POOL_MAX_CONN_LIFETIME": "1h30m", "DB_CONNECT_TIMEOUT": "1.5s"})
    assert str(config["DB_POOL_MAX_CONN_LIFETIME"]) == "1h30m0s"
    assert str(config["DB_CONNECT_TIMEOUT"]) == "1.5s"
