"""Every SSH_* setting: defaults, valid values, and a clear problem naming it for bad input."""

from __future__ import annotations

import pytest

import ocore_ssh
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET
from ocore_ssh.service import pool_options
from ocore_ssh.settings import SETTINGS, SSHSettings

NAMES = [s.name for s in SETTINGS]
DEFAULTS = {
    "SSH_POOL_MAX_PER_HOST": 4,
    "SSH_POOL_IDLE_TIMEOUT": 300.0,
    "SSH_CONNECT_TIMEOUT": 10.0,
    "SSH_COMMAND_TIMEOUT": 60.0,
    "SSH_KEEPALIVE": 30.0,
    "SSH_POOL_ACQUIRE_TIMEOUT": 10.0,
}


def resolved(mode: str = "development", **variables: str) -> Config:
    environ = {"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET, **variables}
    if mode != "development":
        environ["APP_URL"] = "https://ocore.example.com"
    found = load_plugins(environ, [ocore_ssh.plugin])
    # Only this plugin's settings: its unmet ``requires`` (database, vault) are not the point.
    return resolve(environ, found.settings, found.cross_rules)


def value(config: Config, name: str) -> float | int:
    item = config[name]
    return item if isinstance(item, int) and name.endswith("HOST") else item.seconds


def problems(config: Config) -> dict[str, str]:
    return {p.variable: p.message for p in config.report.problems if p.level == "error"}


def test_every_setting_is_documented_and_owned_by_the_plugin():
    assert list(DEFAULTS) == NAMES
    for setting in SETTINGS:
        assert setting.description and setting.example, setting.name
        assert not setting.secret


@pytest.mark.parametrize("mode", ["development", "production"])
def test_missing_means_the_default(mode: str):
    config = resolved(mode)
    assert not problems(config), config.report.render_text()
    assert {name: value(config, name) for name in NAMES} == DEFAULTS
    assert all(config.sources[name] == "default" for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_empty_means_the_default(name: str):
    config = resolved(**{name: ""})
    assert not problems(config)
    assert value(config, name) == DEFAULTS[name]


def test_valid_values_are_parsed_and_reach_the_pool():
    config = resolved(
        SSH_POOL_MAX_PER_HOST="8",
        SSH_POOL_IDLE_TIMEOUT="90s",
        SSH_CONNECT_TIMEOUT="2500ms",
        SSH_COMMAND_TIMEOUT="1h30m",
        SSH_KEEPALIVE="15s",
        SSH_POOL_ACQUIRE_TIMEOUT="1m",
    )
    assert not problems(config), config.report.render_text()
    assert pool_options(config.section(SSHSettings)) == {
        "max_per_host": 8,
        "idle_timeout": 90.0,
        "connect_timeout": 2.5,
        "command_timeout": 5400.0,
        "keepalive": 15,
        "acquire_timeout": 60.0,
    }


def test_keepalive_zero_switches_keepalives_off():
    config = resolved(SSH_KEEPALIVE="0")
    assert not problems(config)
    assert pool_options(config.section(SSHSettings))["keepalive"] == 0


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        # malformed
        ("SSH_POOL_MAX_PER_HOST", "four", "whole number from 1 to 64"),
        ("SSH_POOL_MAX_PER_HOST", "4.5", "whole number from 1 to 64"),
        ("SSH_POOL_IDLE_TIMEOUT", "300", "Go duration"),
        ("SSH_CONNECT_TIMEOUT", "10 s", "Go duration"),
        ("SSH_COMMAND_TIMEOUT", "1 minute", "Go duration"),
        ("SSH_KEEPALIVE", "30sec", "Go duration"),
        ("SSH_POOL_ACQUIRE_TIMEOUT", "ten seconds", "Go duration"),
        ("SSH_CONNECT_TIMEOUT", " ", "only whitespace"),
        ("SSH_POOL_MAX_PER_HOST", " 4", "leading or trailing whitespace"),
        # out of range
        ("SSH_POOL_MAX_PER_HOST", "0", "whole number from 1 to 64"),
        ("SSH_POOL_MAX_PER_HOST", "-1", "whole number from 1 to 64"),
        ("SSH_POOL_MAX_PER_HOST", "65", "whole number from 1 to 64"),
        ("SSH_POOL_IDLE_TIMEOUT", "0s", "greater than zero"),
        ("SSH_POOL_IDLE_TIMEOUT", "25h", "at most 24h"),
        ("SSH_CONNECT_TIMEOUT", "-5s", "greater than zero"),
        ("SSH_CONNECT_TIMEOUT", "6m", "at most 5m"),
        ("SSH_COMMAND_TIMEOUT", "0", "greater than zero"),
        ("SSH_COMMAND_TIMEOUT", "48h", "at most 24h"),
        ("SSH_KEEPALIVE", "500ms", "0 (off) or a whole number of seconds"),
        ("SSH_KEEPALIVE", "1.5s", "0 (off) or a whole number of seconds"),
        ("SSH_KEEPALIVE", "2h", "at most 1h"),
        ("SSH_POOL_ACQUIRE_TIMEOUT", "0ms", "greater than zero"),
        ("SSH_POOL_ACQUIRE_TIMEOUT", "11m", "at most 10m"),
    ],
)
def test_bad_values_are_errors_naming_the_variable(name: str, raw: str, expected: str):
    config = resolved(**{name: raw})
    found = problems(config)
    assert list(found) == [name], found
    assert expected in found[name]


def test_a_negative_keepalive_is_refused():
    message = problems(resolved(SSH_KEEPALIVE="-1s"))["SSH_KEEPALIVE"]
    assert "zero or more" in message or "0 (off)" in message


def test_a_malformed_value_is_quoted_back():
    assert (
        "(got '5 minutes')"
        in problems(resolved(SSH_POOL_IDLE_TIMEOUT="5 minutes"))["SSH_POOL_IDLE_TIMEOUT"]
    )


def test_every_problem_is_reported_at_once():
    config = resolved(SSH_POOL_MAX_PER_HOST="0", SSH_CONNECT_TIMEOUT="soon", SSH_KEEPALIVE="1ms")
    assert set(problems(config)) == {
        "SSH_POOL_MAX_PER_HOST",
        "SSH_CONNECT_TIMEOUT",
        "SSH_KEEPALIVE",
    }
