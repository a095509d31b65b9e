"""The host's settings: every variable missing, empty, whitespace-only, padded, malformed and out
of range, in development and in the strict modes; the cross rules and the warnings tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocore_database.testing import first_party_plugins
from ocore_flask import settings as host_settings
from ocore_flask.config import Config, Mode, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.plugin import Plugin
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, SSH_KEY

OTHER_TOKEN = "prev-health-Wq4Er7Ty1Ui5Op8As2Df6Gh9Jk"
PUBLIC = "https://ocore.example.com"


#: A plugin with nothing to declare, so OCORE_DISABLED_PLUGINS has a valid name to take.
EXTRA = Plugin("extra")


def host(environ: dict[str, str]) -> Config:
    """Resolve the host's own settings (no first-party plugins)."""
    found = load_plugins(environ, [EXTRA])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def errors(config: Config, name: str) -> list[str]:
    return [p.message for p in config.report.errors if p.variable == name]


def warnings(config: Config, name: str) -> list[str]:
    return [p.message for p in config.report.warnings if p.variable == name]


@pytest.fixture(params=["development", "staging", "production"])
def base(request, dev_env, strict_env) -> dict[str, str]:
    """A valid environment in each mode, with a public APP_URL and a health token."""
    env = dict(dev_env if request.param == "development" else strict_env)
    env.update(ENVIRONMENT=request.param, APP_URL=PUBLIC, HEALTH_CHECK_TOKEN=HEALTH_TOKEN)
    return env


LOG_CONFIG_FILE = str(Path(__file__).parent / "serving" / "logging.json")

# name: (a valid value, malformed values, out-of-range values) — in every mode.
CASES: dict[str, tuple[str, list[str], list[str]]] = {
    "ENVIRONMENT": ("staging", ["prod", "Production", "dev elopment"], []),
    "JWT_SECRET": (JWT_SECRET, [f"{JWT_SECRET}\nmore"], ["only-31-chars-Zq8vL3nR5tW9yB2dF"]),
    "APP_URL": (PUBLIC, ["ocore.example.com", "ftp://ocore.example.com"], [PUBLIC + ":65536"]),
    "SERVER_PORT": ("8081", ["http", "80.5"], ["0", "65536", "-1"]),
    "SERVER_HOST": ("0.0.0.0", ["http://0.0.0.0", "0.0.0.0:8080"], ["a" * 254]),
    "SERVER_THREADS": ("4", ["eight"], ["0", "257"]),
    "SERVER_CONNECTION_LIMIT": ("100", ["lots"], ["0", "10001"]),
    "SERVER_CHANNEL_TIMEOUT": ("45s", ["30"], ["0s", "-1s"]),
    "SERVER_SHUTDOWN_GRACE": ("10s", ["20"], ["0", "-5s"]),
    "WEB_CONCURRENCY": ("2", ["two"], ["0", "65"]),
    "WSGI_SERVER": ("waitress", ["gunicorn", "uvicorn", "granian2"], []),
    "HEALTH_CHECK_TOKEN": (HEALTH_TOKEN, ["tok\nen"], []),
    "HEALTH_CHECK_TOKEN_PREVIOUS": (OTHER_TOKEN, ["tok\x00en"], []),
    "HEALTH_CACHE_TTL": ("2s", ["2"], ["-1s"]),
    "HEALTH_TIMEOUT": ("3s", ["3"], ["0s"]),
    "LOG_LEVEL": ("debug", ["verbose", "trace"], []),
    "LOG_FORMAT": ("text", ["xml"], []),
    "LOG_CONFIG": (LOG_CONFIG_FILE, ["/no/such/logging.json", __file__], []),
    "TRUSTED_PROXY_HOPS": ("2", ["one"], ["-1", "11"]),
    "OCORE_DISABLED_PLUGINS": ("extra", ["Extra", "extra;other", "my-plugin"], []),
    "OCORE_COMMIT": ("3f2c1ab", ["3f2c\n1ab"], []),
    "OCORE_FINGERPRINT_KEY_FILE": (
        "/var/lib/ocore/fingerprint.key",
        ["fingerprint.key", "~/fingerprint.key", "/var/lib/x\ny"],
        [],
    ),
}
SECRETS = {s.name for s in host_settings.SETTINGS if s.secret}
REQUIRED_EVERYWHERE = {"JWT_SECRET"}


def test_every_host_setting_has_cases() -> None:
    assert set(CASES) == {s.name for s in host_settings.SETTINGS}


def test_the_secret_host_settings() -> None:
    assert {"JWT_SECRET", "HEALTH_CHECK_TOKEN", "HEALTH_CHECK_TOKEN_PREVIOUS"} == SECRETS


def test_base_environments_are_valid(base) -> None:
    config = host(base)
    assert config.report.ok and config.report.problems == []
    assert config.mode is Mode(base["ENVIRONMENT"])


# --- generic: every setting, every mode ---------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_valid_value_is_accepted(base, name: str) -> None:
    config = host({**base, name: CASES[name][0]})
    assert config.report.ok, config.report.render_text()
    assert config.sources[name] == "environment"


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("raw", [" ", "\t \n"])
def test_whitespace_only_is_one_clear_error(base, name: str, raw: str) -> None:
    config = host({**base, name: raw})
    assert errors(config, name) == ["is only whitespace: unset it or give it a value"]


@pytest.mark.parametrize("name", CASES)
def test_surrounding_whitespace_is_an_error(base, name: str) -> None:
    valid = CASES[name][0]
    for raw in (f" {valid}", f"{valid} ", f"{valid}\n"):
        (message,) = errors(host({**base, name: raw}), name)
        assert "leading or trailing whitespace" in message


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_missing_or_empty(base, name: str, how: str) -> None:
    env = dict(base)
    env.pop(name, None)
    if how == "empty":
        env[name] = ""
    config = host(env)
    if name in REQUIRED_EVERYWHERE:
        (message,) = errors(config, name)
        assert ("set but empty" if how == "empty" else "required but not set") in message
        assert "openssl rand" in message
    else:
        assert errors(config, name) == []
        assert config.sources[name] in ("default", "derived", "unset")


@pytest.mark.parametrize(
    ("name", "raw"), [(n, raw) for n, case in CASES.items() for raw in case[1]]
)
def test_malformed_value_is_an_error(base, name: str, raw: str) -> None:
    config = host({**base, name: raw})
    messages = errors(config, name)
    assert messages, f"{name}={raw!r} was accepted"
    text = config.report.render_text()
    if name in SECRETS:
        assert raw not in text
    else:
        assert any("(got " in m for m in messages)


@pytest.mark.parametrize(
    ("name", "raw"), [(n, raw) for n, case in CASES.items() for raw in case[2]]
)
def test_out_of_range_value_is_an_error(base, name: str, raw: str) -> None:
    assert errors(host({**base, name: raw}), name), f"{name}={raw!r} was accepted"


# --- defaults per mode --------------------------------------------------------------------


def test_development_defaults(dev_env) -> None:
    config = host(dev_env)
    assert config.report.ok and config.report.problems == []
    assert config["APP_URL"] == "http://localhost:3000"
    assert config["SERVER_PORT"] == 8080
    assert config["SERVER_HOST"] == "127.0.0.1"
    assert config["LOG_FORMAT"] == "text" and config["LOG_LEVEL"] == "info"
    assert config["TRUSTED_PROXY_HOPS"] == 0
    assert config.get("HEALTH_CHECK_TOKEN") is None
    assert config.get("OCORE_DISABLED_PLUGINS") is None
    assert host({**dev_env, "OCORE_DISABLED_PLUGINS": "extra"})["OCORE_DISABLED_PLUGINS"] == (
        "extra",
    )


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_strict_defaults(strict_env, mode: str) -> None:
    config = host({**strict_env, "ENVIRONMENT": mode, "APP_URL": PUBLIC + "/dashboard/"})
    assert config.report.ok and config.report.problems == []
    assert config.mode.strict
    assert config["SERVER_HOST"] == "0.0.0.0"
    assert config["LOG_FORMAT"] == "json"
    assert config["TRUSTED_PROXY_HOPS"] == 1


def test_unset_environment_is_production(strict_env) -> None:
    del strict_env["ENVIRONMENT"]
    config = host(strict_env)
    assert config.mode is Mode.PRODUCTION and config.report.ok
    assert not config.report.mode_assumed


def test_log_level_is_case_insensitive(dev_env) -> None:
    assert host({**dev_env, "LOG_LEVEL": "WARNING"})["LOG_LEVEL"] == "warning"


def test_health_cache_ttl_may_be_zero(dev_env) -> None:
    assert host({**dev_env, "HEALTH_CACHE_TTL": "0"})["HEALTH_CACHE_TTL"] == 0


# --- JWT ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["development", "staging", "production"])
def test_jwt_secret_is_required_in_every_mode(mode: str) -> None:
    (message,) = errors(host({"ENVIRONMENT": mode}), "JWT_SECRET")
    assert "required but not set" in message and "openssl rand -base64 48" in message


@pytest.mark.parametrize("mode", ["development", "production"])
def test_jwt_secret_shorter_than_32_is_rejected_everywhere(mode: str) -> None:
    config = host({"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET[:31]})
    assert any("at least 32 characters (it has 31)" in m for m in errors(config, "JWT_SECRET"))


@pytest.mark.parametrize(
    "weak", ["a" * 48, "abcabcabcabcabcabcabcabcabcabcabcabc", "changeme-" + JWT_SECRET]
)
def test_weak_jwt_secret_is_rejected_only_when_strict(strict_env, dev_env, weak: str) -> None:
    assert errors(host({**strict_env, "JWT_SECRET": weak}), "JWT_SECRET")
    assert host({**dev_env, "JWT_SECRET": weak}).report.ok


# --- APP_URL -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://localhost:3000", "http://127.0.0.1:8080", "https://localhost"]
)
def test_localhost_app_url_is_a_warning_in_strict_modes(strict_env, url: str) -> None:
    config = host({**strict_env, "APP_URL": url})
    assert config.report.ok, config.report.render_text()
    (message,) = warnings(config, "APP_URL")
    assert "localhost" in message and "public dashboard URL" in message


def test_localhost_app_url_is_silent_in_development(dev_env) -> None:
    assert host(dev_env).report.warnings == []


# --- health tokens ------------------------------------------------------------------------


def test_health_token_is_optional(strict_env) -> None:
    del strict_env["HEALTH_CHECK_TOKEN"]
    config = host(strict_env)
    assert config.report.ok and config.get("HEALTH_CHECK_TOKEN") is None


def test_short_or_weak_health_token_only_fails_when_strict(strict_env, dev_env) -> None:
    for token in ("short-token", "a" * 40):
        assert errors(host({**strict_env, "HEALTH_CHECK_TOKEN": token}), "HEALTH_CHECK_TOKEN")
        assert host({**dev_env, "HEALTH_CHECK_TOKEN": token}).report.ok


def test_previous_health_token_needs_a_current_one(base) -> None:
    env = {**base, "HEALTH_CHECK_TOKEN_PREVIOUS": OTHER_TOKEN}
    assert host(env).report.ok
    del env["HEALTH_CHECK_TOKEN"]
    (message,) = errors(host(env), "HEALTH_CHECK_TOKEN_PREVIOUS")
    assert "HEALTH_CHECK_TOKEN is not" in message
    assert OTHER_TOKEN not in message


def test_previous_health_token_is_not_blamed_for_an_invalid_current_one(strict_env) -> None:
    env = {**strict_env, "HEALTH_CHECK_TOKEN": "short", "HEALTH_CHECK_TOKEN_PREVIOUS": OTHER_TOKEN}
    config = host(env)
    assert errors(config, "HEALTH_CHECK_TOKEN")
    assert errors(config, "HEALTH_CHECK_TOKEN_PREVIOUS") == [], (
        "HEALTH_CHECK_TOKEN is set (only invalid): the previous token must not be told it is unset"
    )


def test_short_previous_health_token_fails_when_strict(strict_env) -> None:
    env = {**strict_env, "HEALTH_CHECK_TOKEN_PREVIOUS": "short-old"}
    assert errors(host(env), "HEALTH_CHECK_TOKEN_PREVIOUS")


@pytest.mark.parametrize(
    ("name", "token"),
    [("HEALTH_CHECK_TOKEN", HEALTH_TOKEN), ("HEALTH_CHECK_TOKEN_PREVIOUS", OTHER_TOKEN)],
)
@pytest.mark.parametrize("mode", ["staging", "production"])
def test_health_tokens_need_32_characters_when_strict(
    strict_env, dev_env, name: str, token: str, mode: str
) -> None:
    """The boundary itself: 32 characters pass, 31 fail (naming the count), in both strict
    modes; development takes 31."""
    env = {**strict_env, "ENVIRONMENT": mode, "HEALTH_CHECK_TOKEN": HEALTH_TOKEN}
    at_32 = host({**env, name: token[:32]})
    assert errors(at_32, name) == [], at_32.report.render_text()
    (message,) = errors(host({**env, name: token[:31]}), name)
    assert message.startswith("must be at least 32 characters (it has 31)")
    assert "openssl rand" in message and token[:31] not in message
    assert host({**dev_env, "HEALTH_CHECK_TOKEN": HEALTH_TOKEN, name: token[:31]}).report.ok


# --- the mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "hint"),
    [("developmnet", "development"), ("prod", "production"), ("Staging", "staging")],
)
def test_misspelt_environment_suggests_and_assumes_strict(dev_env, raw: str, hint: str) -> None:
    config = host({**dev_env, "ENVIRONMENT": raw, "JWT_SECRET": "a" * 40})
    (message,) = errors(config, "ENVIRONMENT")
    assert f"did you mean {hint!r}" in message and "development, staging, production" in message
    assert config.mode is Mode.PRODUCTION and config.report.mode_assumed
    assert errors(config, "JWT_SECRET"), "the strict rules apply while ENVIRONMENT is invalid"
    assert warnings(config, "APP_URL"), "the strict warnings apply too"
    head = config.report.render_text().splitlines()[0]
    assert "assumed" in head
    assert config.report.to_dict()["environment_assumed"] is True


# --- look-alikes --------------------------------------------------------------------------


def test_misspelt_jwt_secret_is_a_warning_naming_the_real_one(dev_env) -> None:
    config = host({**dev_env, "JWT_SECERT": SSH_KEY})
    assert config.report.ok
    (message,) = warnings(config, "JWT_SECERT")
    assert "did you mean JWT_SECRET" in message
    assert SSH_KEY not in config.report.render_text()


def test_misspelt_pool_setting_is_a_warning_naming_the_real_one(dev_env) -> None:
    env = {**dev_env, "DATABASE_URL": "postgres://db/ocore", "DB_POOL_MAX_CONN": "10"}
    found = load_plugins(env, first_party_plugins())
    config = resolve(env, found.settings, found.cross_rules, found.problems)
    assert config.report.ok
    (problem,) = [p for p in config.report.warnings if p.variable == "DB_POOL_MAX_CONN"]
    assert "did you mean DB_POOL_MAX_CONNS" in problem.message
    assert problem.owner == "database"


def test_without_the_database_plugin_db_names_are_not_ours(dev_env) -> None:
    assert host({**dev_env, "DB_POOL_MAX_CONN": "10"}).report.problems == []
