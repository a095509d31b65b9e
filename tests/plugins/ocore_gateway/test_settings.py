"""The gateway's settings: defaults per mode, Go-style listen addresses, bounds, and the seed's
rule that an enabled gateway needs SSH_ENCRYPTION_KEY outside development."""

from __future__ import annotations

import pytest

import ocore_auth
import ocore_database
import ocore_gateway
import ocore_ssh
import ocore_vault
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET, SSH_KEY
from ocore_gateway.settings import SETTINGS, ListenAddress, parse_listen_address

PLUGINS = [
    ocore_database.plugin,
    ocore_auth.plugin,
    ocore_vault.plugin,
    ocore_ssh.plugin,
    ocore_gateway.plugin,
]
DATABASE_URL = "postgres://ocore:pw@127.0.0.1:5432/ocore"


def resolved(mode: str = "development", **variables: str) -> Config:
    environ = {"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET, "DATABASE_URL": DATABASE_URL}
    if mode != "development":
        environ["APP_URL"] = "https://ocore.example.com"
    environ.update(variables)
    found = load_plugins(environ, PLUGINS)
    return resolve(environ, found.settings, found.cross_rules)


def errors(config: Config) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in config.report.errors:
        found.setdefault(problem.variable, []).append(problem.message)
    return found


def test_every_setting_is_documented():
    names = [s.name for s in SETTINGS]
    assert names[:2] == ["SSH_GATEWAY_ENABLED", "SSH_LISTEN_ADDR"]
    for setting in SETTINGS:
        assert setting.description and setting.example, setting.name
        assert not setting.secret


def test_defaults_off_loopback_in_development_every_interface_otherwise():
    dev = resolved()
    assert dev["SSH_GATEWAY_ENABLED"] is False
    assert dev["SSH_LISTEN_ADDR"] == ListenAddress("127.0.0.1", 2222)
    prod = resolved("production", SSH_ENCRYPTION_KEY=SSH_KEY)
    assert prod.report.ok, prod.report.render_text()
    assert prod["SSH_LISTEN_ADDR"] == ListenAddress("", 2222)
    assert str(prod["SSH_LISTEN_ADDR"]) == ":2222"
    assert prod["SSH_GATEWAY_MAX_SESSIONS"] == 200
    assert prod["SSH_GATEWAY_HEARTBEAT_INTERVAL"].seconds == 5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (":2222", ListenAddress("", 2222)),
        ("*:22", ListenAddress("", 22)),
        ("127.0.0.1:2200", ListenAddress("127.0.0.1", 2200)),
        ("LocalHost:2222", ListenAddress("localhost", 2222)),
        ("[::1]:2222", ListenAddress("::1", 2222)),
    ],
)
def test_listen_addresses_as_go_writes_them(raw: str, expected: ListenAddress):
    assert parse_listen_address(raw) == expected
    assert parse_listen_address(str(expected)) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("2222", "host:port or :port"),
        (":0", "port must be a number from 1 to 65535"),
        (":ssh", "port must be a number"),
        ("::1:2222", "IPv6 address goes in brackets"),
        ("[::1]2222", "brackets with a port"),
        ("bad_host:2222", "host name or IP address"),
    ],
)
def test_bad_listen_addresses_name_the_fix(raw: str, fragment: str):
    problems = errors(resolved(SSH_LISTEN_ADDR=raw))
    assert fragment in problems["SSH_LISTEN_ADDR"][0]


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("SSH_GATEWAY_ENABLED", "maybe", ""),
        ("SSH_GATEWAY_IDLE_TIMEOUT", "500ms", "0 (off) or at least 1s"),
        ("SSH_GATEWAY_HEARTBEAT_INTERVAL", "10ms", "at least 100ms"),
        ("SSH_GATEWAY_LOGIN_TIMEOUT", "1h", "at most 10m"),
        ("SSH_GATEWAY_MAX_AUTH_TRIES", "0", ""),
        ("SSH_GATEWAY_MAX_SESSIONS_PER_USER", "0", ""),
    ],
)
def test_out_of_range_values_are_refused(name: str, raw: str, fragment: str):
    problems = errors(resolved(**{name: raw}))
    assert name in problems
    assert fragment in problems[name][0]


def test_an_idle_timeout_of_zero_switches_it_off():
    assert resolved(SSH_GATEWAY_IDLE_TIMEOUT="0").report.ok


def test_strict_modes_need_the_encryption_key_for_an_enabled_gateway():
    enabled = errors(resolved("production", SSH_GATEWAY_ENABLED="true"))
    (message,) = enabled["SSH_GATEWAY_ENABLED"]
    assert "SSH gateway needs a valid SSH_ENCRYPTION_KEY" in message
    assert "SSH_GATEWAY_ENABLED=false" in message
    assert "SSH_ENCRYPTION_KEY" in enabled  # the vault's own report stays

    short = errors(resolved("production", SSH_GATEWAY_ENABLED="true", SSH_ENCRYPTION_KEY="short"))
    assert "SSH_GATEWAY_ENABLED" in short

    fine = resolved("production", SSH_GATEWAY_ENABLED="true", SSH_ENCRYPTION_KEY=SSH_KEY)
    assert fine.report.ok, fine.report.render_text()
    off = errors(resolved("production"))
    assert "SSH_GATEWAY_ENABLED" not in off


def test_development_derives_the_key_so_the_rule_stays_quiet():
    assert resolved(SSH_GATEWAY_ENABLED="true").report.ok
