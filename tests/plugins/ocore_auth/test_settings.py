"""The auth plugin's settings: token lifetimes (Go durations), the previous JWT secret, the
WebAuthn relying party (derived from APP_URL, https when strict), throttling and the user cache."""

from __future__ import annotations

import pytest

import ocore_auth
import ocore_database
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET

PUBLIC = "https://ocore.example.com"
DATABASE = "postgres://ocore@localhost:5432/ocore"
PREVIOUS = "prev-jwt-Lr5Tq9Wm3Kx7Vb1Nc4Hs8Jd2Fg6"

# name: (a valid value, malformed values, out-of-range values) — in every mode.
CASES: dict[str, tuple[str, list[str], list[str]]] = {
    "JWT_ACCESS_EXPIRY": ("15m", ["15", "15 minutes", "1d"], ["0s", "-15m"]),
    "JWT_REFRESH_EXPIRY": ("168h", ["7d", "forever"], ["0", "-720h"]),
    "JWT_SECRET_PREVIOUS": (PREVIOUS, [f"{PREVIOUS}\nmore"], ["only-31-chars-Zq8vL3nR5tW9yB2dF"]),
    "WEBAUTHN_ORIGIN": (PUBLIC, ["ocore.example.com", PUBLIC + "/login"], [PUBLIC + ":70000"]),
    "WEBAUTHN_RP_ID": ("ocore.example.com", [PUBLIC, "ocore.example.com:443"], ["a" * 64 + ".com"]),
    "AUTH_LOGIN_FREE_ATTEMPTS": ("3", ["three", "2.5"], ["0", "101"]),
    "AUTH_LOGIN_MAX_DELAY": ("5m", ["300"], ["0s", "-1m"]),
    "AUTH_USER_CACHE_TTL": ("0", ["5"], ["-1s"]),
}


def config(environ: dict[str, str]) -> Config:
    """Resolve the host's, the database's and the auth plugin's settings."""
    found = load_plugins(environ, [ocore_auth.plugin, ocore_database.plugin])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def errors(cfg: Config, name: str) -> list[str]:
    return [p.message for p in cfg.report.errors if p.variable == name]


@pytest.fixture(params=["development", "staging", "production"])
def base(request, dev_env, strict_env) -> dict[str, str]:
    """A valid environment in each mode, with a public APP_URL."""
    env = dict(dev_env if request.param == "development" else strict_env)
    env.update(
        ENVIRONMENT=request.param,
        APP_URL=PUBLIC,
        HEALTH_CHECK_TOKEN=HEALTH_TOKEN,
        DATABASE_URL=DATABASE + ("" if request.param == "development" else "?sslmode=require"),
    )
    return env


def test_every_auth_setting_has_cases() -> None:
    from ocore_auth.settings import SETTINGS

    assert set(CASES) == {s.name for s in SETTINGS}
    assert {s.name for s in SETTINGS if s.secret} == {"JWT_SECRET_PREVIOUS"}


def test_base_environments_are_valid(base) -> None:
    cfg = config(base)
    assert cfg.report.ok, cfg.report.render_text()


@pytest.mark.parametrize("name", CASES)
def test_valid_value_is_accepted(base, name: str) -> None:
    cfg = config({**base, name: CASES[name][0]})
    assert cfg.report.ok, cfg.report.render_text()
    assert cfg.sources[name] == "environment"


@pytest.mark.parametrize(
    ("name", "raw"), [(n, raw) for n, case in CASES.items() for raw in case[1] + case[2]]
)
def test_bad_value_is_an_error_naming_the_variable(base, name: str, raw: str) -> None:
    cfg = config({**base, name: raw})
    assert errors(cfg, name), f"{name}={raw!r} was accepted"
    if name == "JWT_SECRET_PREVIOUS":
        assert raw not in cfg.report.render_text()  # a secret is never echoed


def test_development_defaults(dev_env) -> None:
    cfg = config({**dev_env, "DATABASE_URL": DATABASE})
    assert cfg.report.ok, cfg.report.render_text()
    assert cfg["WEBAUTHN_ORIGIN"] == "http://localhost:3000"
    assert cfg["WEBAUTHN_RP_ID"] == "localhost"
    assert str(cfg["JWT_ACCESS_EXPIRY"]) == "1h0m0s"
    assert str(cfg["JWT_REFRESH_EXPIRY"]) == "720h0m0s"
    assert cfg.get("JWT_SECRET_PREVIOUS") is None
    section = cfg.section(ocore_auth.plugin.settings)
    assert section.login_free_attempts == 5 and str(section.login_max_delay) == "15m0s"
    assert str(section.user_cache_ttl) == "5s"


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_strict_origin_and_rp_id_derive_from_app_url(strict_env, mode: str) -> None:
    env = {**strict_env, "ENVIRONMENT": mode, "APP_URL": PUBLIC + "/dashboard/"}
    cfg = config({**env, "DATABASE_URL": DATABASE + "?sslmode=require"})
    assert cfg.report.ok, cfg.report.render_text()
    assert cfg["WEBAUTHN_ORIGIN"] == PUBLIC
    assert cfg.sources["WEBAUTHN_ORIGIN"] == "derived"
    assert cfg["WEBAUTHN_RP_ID"] == "ocore.example.com"


def test_refresh_must_outlive_access(base) -> None:
    for access, refresh in (("1h", "1h"), ("2h", "1h"), ("60m", "3600s")):
        env = {**base, "JWT_ACCESS_EXPIRY": access, "JWT_REFRESH_EXPIRY": refresh}
        (message,) = errors(config(env), "JWT_REFRESH_EXPIRY")
        assert "longer than JWT_ACCESS_EXPIRY" in message
    ok = {**base, "JWT_ACCESS_EXPIRY": "15m", "JWT_REFRESH_EXPIRY": "15m1s"}
    assert config(ok).report.ok
    assert errors(config({**base, "JWT_ACCESS_EXPIRY": "1000h"}), "JWT_REFRESH_EXPIRY")


def test_refresh_rule_waits_for_a_valid_access_expiry(base) -> None:
    cfg = config({**base, "JWT_ACCESS_EXPIRY": "soon", "JWT_REFRESH_EXPIRY": "1s"})
    assert [p.variable for p in cfg.report.errors] == ["JWT_ACCESS_EXPIRY"]


def test_duration_errors_say_which_units_to_use(base) -> None:
    (message,) = errors(config({**base, "JWT_ACCESS_EXPIRY": "15"}), "JWT_ACCESS_EXPIRY")
    assert "ns, us, ms, s, m, h" in message and "1h30m" in message


def test_previous_secret_must_differ_from_other_secrets_when_strict(strict_env) -> None:
    env = {**strict_env, "DATABASE_URL": DATABASE + "?sslmode=require"}
    cfg = config({**env, "JWT_SECRET_PREVIOUS": HEALTH_TOKEN})
    assert errors(cfg, "JWT_SECRET_PREVIOUS") or errors(cfg, "HEALTH_CHECK_TOKEN")
    assert config({**env, "JWT_SECRET_PREVIOUS": JWT_SECRET}).report.ok  # same purpose


def test_strict_webauthn_origin_needs_https(strict_env, dev_env) -> None:
    http = {"WEBAUTHN_ORIGIN": "http://ocore.example.com"}
    strict = {**strict_env, "DATABASE_URL": DATABASE + "?sslmode=require"}
    (message,) = errors(config({**strict, **http}), "WEBAUTHN_ORIGIN")
    assert "https" in message
    assert config({**dev_env, "DATABASE_URL": DATABASE, **http}).report.ok


def test_strict_origin_derived_from_an_http_app_url_is_rejected(strict_env) -> None:
    env = {**strict_env, "DATABASE_URL": DATABASE + "?sslmode=require"}
    (message,) = errors(config({**env, "APP_URL": "http://ocore.example.com"}), "WEBAUTHN_ORIGIN")
    assert "https" in message


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [
        ("https://ocore.example.com", "ocore.example.com"),
        ("https://login.ocore.example.com", "ocore.example.com"),
        ("https://login.ocore.example.com:8443", "example.com"),
        ("https://OCORE.example.com", "ocore.EXAMPLE.com"),
    ],
)
def test_rp_id_equal_to_the_host_or_a_registrable_suffix(base, origin: str, rp_id: str) -> None:
    cfg = config({**base, "WEBAUTHN_ORIGIN": origin, "WEBAUTHN_RP_ID": rp_id})
    assert cfg.report.ok, cfg.report.render_text()


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [
        ("https://ocore.example.com", "example.org"),
        ("https://ocore.example.com", "com"),
        ("https://ocore.example.com", "core.example.com"),
        ("https://example.com", "login.example.com"),
        ("https://10.0.0.5", "0.0.5"),
        ("https://10.0.0.5", "10.0.0.6"),
    ],
)
def test_rp_id_not_matching_the_origin_is_an_error(base, origin: str, rp_id: str) -> None:
    cfg = config({**base, "WEBAUTHN_ORIGIN": origin, "WEBAUTHN_RP_ID": rp_id})
    (message,) = errors(cfg, "WEBAUTHN_RP_ID")
    assert "host of WEBAUTHN_ORIGIN" in message


def test_rp_id_follows_an_explicit_origin(strict_env) -> None:
    env = {**strict_env, "DATABASE_URL": DATABASE + "?sslmode=require"}
    cfg = config({**env, "WEBAUTHN_ORIGIN": "https://login.example.net"})
    assert cfg["WEBAUTHN_RP_ID"] == "login.example.net"
    assert cfg.sources["WEBAUTHN_RP_ID"] == "derived"
