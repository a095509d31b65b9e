"""Every AGENT_* setting: defaults (the minimum interval derived from the push interval),
bounds, and a clear problem naming the variable for bad input or a bad combination."""

from __future__ import annotations

import pytest

import ocore_agents
from ocore_agents.settings import SETTINGS
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET

NAMES = [s.name for s in SETTINGS]


def resolved(mode: str = "development", **variables: str) -> Config:
    environ = {"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET, **variables}
    if mode != "development":
        environ["APP_URL"] = "https://ocore.example.com"
    found = load_plugins(environ, [ocore_agents.plugin])
    return resolve(environ, found.settings, found.cross_rules)


def problems(config: Config) -> dict[str, str]:
    return {p.variable: p.message for p in config.report.problems if p.level == "error"}


def test_every_setting_is_documented() -> None:
    assert NAMES == [
        "AGENT_PUSH_INTERVAL",
        "AGENT_PUSH_MIN_INTERVAL",
        "AGENT_PUSH_MAX_BYTES",
        "AGENT_TOKEN_GRACE",
    ]
    for setting in SETTINGS:
        assert setting.description and setting.example and not setting.secret, setting.name


@pytest.mark.parametrize("mode", ["development", "production"])
def test_defaults(mode: str) -> None:
    config = resolved(mode)
    assert not problems(config), config.report.render_text()
    assert str(config["AGENT_PUSH_INTERVAL"]) == "30s"
    assert str(config["AGENT_PUSH_MIN_INTERVAL"]) == "10s"
    assert config["AGENT_PUSH_MAX_BYTES"] == 65536
    assert str(config["AGENT_TOKEN_GRACE"]) == "24h0m0s"


def test_the_minimum_interval_follows_the_push_interval() -> None:
    config = resolved(AGENT_PUSH_INTERVAL="200ms")
    assert not problems(config)
    assert config["AGENT_PUSH_MIN_INTERVAL"].milliseconds == 66
    assert str(resolved(AGENT_PUSH_MIN_INTERVAL="0s")["AGENT_PUSH_MIN_INTERVAL"]) == "0s"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("AGENT_PUSH_INTERVAL", "30", "Go duration"),
        ("AGENT_PUSH_INTERVAL", "0s", "greater than zero"),
        ("AGENT_PUSH_INTERVAL", "10ms", "from 100ms to 1h"),
        ("AGENT_PUSH_INTERVAL", "2h", "from 100ms to 1h"),
        ("AGENT_PUSH_MIN_INTERVAL", "-1s", "zero or more"),
        ("AGENT_PUSH_MIN_INTERVAL", "20s", "at most half of AGENT_PUSH_INTERVAL (30s)"),
        ("AGENT_PUSH_MAX_BYTES", "100", "from 1024 to 4194304"),
        ("AGENT_PUSH_MAX_BYTES", "64k", "whole number"),
        ("AGENT_TOKEN_GRACE", "1000h", "from 0s to 720h"),
    ],
)
def test_bad_values_name_the_variable_and_the_rule(variable, value, fragment) -> None:
    found = problems(resolved(**{variable: value}))
    assert set(found) == {variable}, found
    assert fragment in found[variable]
