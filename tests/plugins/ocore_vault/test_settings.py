"""The vault plugin's settings: SSH_ENCRYPTION_KEY per mode and per plugin state, key strength,
and the decrypt-only previous keys."""

from __future__ import annotations

import pytest

import ocore_database
import ocore_vault
from ocore_flask.config import Config, Secret, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET, SSH_KEY

DB = "postgres://db/ocore"
OLD_1 = "old-key-one-Pq9Wo8Ei7Ru6Ty5Yu4Io3Pa2"
OLD_2 = "old-key-two-Lk1Jh2Gf3Ds4Az5Xc6Vb7Nm8"


def vault(environ: dict[str, str], plugins=None) -> Config:
    """Resolve with the database and vault plugins (or real discovery when ``plugins=...``)."""
    chosen = [ocore_database.plugin, ocore_vault.plugin] if plugins is None else plugins
    found = load_plugins(environ, None if chosen is ... else chosen)
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def errors(config: Config, name: str) -> list[str]:
    return [p.message for p in config.report.errors if p.variable == name]


def env(mode: str, **extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": mode,
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": DB,
        "APP_URL": "https://ocore.example.com",
        **extra,
    }


# --- required-ness ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_key_is_required_in_strict_modes(mode: str) -> None:
    config = vault(env(mode))
    (message,) = errors(config, "SSH_ENCRYPTION_KEY")
    assert f"required but not set in {mode}" in message
    assert "openssl rand" in message and "back it up" in message


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_empty_key_is_reported_as_empty_in_strict_modes(mode: str) -> None:
    (message,) = errors(vault(env(mode, SSH_ENCRYPTION_KEY="")), "SSH_ENCRYPTION_KEY")
    assert "set but empty" in message


def test_key_is_not_required_in_development() -> None:
    config = vault(env("development"))
    assert config.report.ok, config.report.render_text()
    assert config.plain("SSH_ENCRYPTION_KEY") is None


def test_a_set_key_is_used_in_development_too() -> None:
    config = vault(env("development", SSH_ENCRYPTION_KEY=SSH_KEY))
    assert config.plain("SSH_ENCRYPTION_KEY") == SSH_KEY


def test_strict_mode_with_a_key_is_valid() -> None:
    config = vault(env("production", SSH_ENCRYPTION_KEY=SSH_KEY))
    assert config.report.ok, config.report.render_text()
    key = config["SSH_ENCRYPTION_KEY"]
    assert isinstance(key, Secret) and SSH_KEY not in repr(key)


def test_not_required_when_the_vault_plugin_is_disabled() -> None:
    disabled = "ssh,vault,agents,backups,gateway"  # with everything that requires ssh
    config = vault(env("production", OCORE_DISABLED_PLUGINS=disabled), plugins=...)
    assert errors(config, "SSH_ENCRYPTION_KEY") == []
    assert "SSH_ENCRYPTION_KEY" not in config.settings
    assert config.report.ok, config.report.render_text()


def test_explicit_plugin_list_disabling_the_vault_drops_its_settings() -> None:
    config = vault(env("staging", OCORE_DISABLED_PLUGINS="vault"))
    assert config.report.ok, config.report.render_text()
    assert "SSH_ENCRYPTION_KEY_PREVIOUS" not in config.settings


def test_disabling_the_vault_alone_breaks_ssh_which_requires_it() -> None:
    config = vault(env("production", OCORE_DISABLED_PLUGINS="vault"), plugins=...)
    assert errors(config, "SSH_ENCRYPTION_KEY") == []
    (problem,) = [p for p in config.report.errors if p.variable == "plugin:ssh"]
    assert "requires plugin 'vault'" in problem.message and "disabled" in problem.message


def test_required_with_real_discovery_while_enabled() -> None:
    assert errors(vault(env("production"), plugins=...), "SSH_ENCRYPTION_KEY")


# --- strength -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["development", "staging", "production"])
def test_short_key_is_rejected_in_every_mode(mode: str) -> None:
    config = vault(env(mode, SSH_ENCRYPTION_KEY=SSH_KEY[:31]))
    (message,) = errors(config, "SSH_ENCRYPTION_KEY")
    assert "at least 32 characters (it has 31)" in message
    assert SSH_KEY[:31] not in config.report.render_text()


@pytest.mark.parametrize("weak", ["k" * 48, "0123012301230123012301230123012301230123"])
def test_low_entropy_key_is_rejected_when_strict(weak: str) -> None:
    (message,) = errors(vault(env("production", SSH_ENCRYPTION_KEY=weak)), "SSH_ENCRYPTION_KEY")
    assert "too predictable" in message
    assert vault(env("development", SSH_ENCRYPTION_KEY=weak)).report.ok


def test_the_examples_placeholder_is_rejected() -> None:
    config = vault(env("production", SSH_ENCRYPTION_KEY="<openssl rand -base64 48>"))
    assert errors(config, "SSH_ENCRYPTION_KEY")


@pytest.mark.parametrize("raw", ["   ", f" {SSH_KEY}", f"{SSH_KEY}\n", f"{SSH_KEY}\x00x"])
def test_whitespace_or_control_characters_are_rejected(raw: str) -> None:
    config = vault(env("production", SSH_ENCRYPTION_KEY=raw))
    assert errors(config, "SSH_ENCRYPTION_KEY")
    assert SSH_KEY not in config.report.render_text()


# --- previous keys ------------------------------------------------------------------------


def test_previous_keys_are_parsed_into_a_secret_tuple() -> None:
    config = vault(
        env(
            "production",
            SSH_ENCRYPTION_KEY=SSH_KEY,
            SSH_ENCRYPTION_KEY_PREVIOUS=f"{OLD_1}, {OLD_2}",
        )
    )
    assert config.report.ok, config.report.render_text()
    previous = config["SSH_ENCRYPTION_KEY_PREVIOUS"]
    assert isinstance(previous, Secret) and previous.reveal() == (OLD_1, OLD_2)
    assert OLD_1 not in repr(previous) and OLD_1 not in config.describe(
        "SSH_ENCRYPTION_KEY_PREVIOUS"
    )
    assert {OLD_1, OLD_2} <= set(config.secret_values())


@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize(
    ("raw", "index"), [("short-old", 1), (f"{OLD_1},short-old", 2), (f"{OLD_1},{OLD_2},x", 3)]
)
def test_each_previous_key_needs_32_characters(mode: str, raw: str, index: int) -> None:
    config = vault(env(mode, SSH_ENCRYPTION_KEY=SSH_KEY, SSH_ENCRYPTION_KEY_PREVIOUS=raw))
    (message,) = errors(config, "SSH_ENCRYPTION_KEY_PREVIOUS")
    assert f"key #{index} has fewer than 32 characters" in message
    text = config.report.render_text()
    assert OLD_1 not in text and "short-old" not in text


def test_previous_keys_are_optional() -> None:
    config = vault(env("production", SSH_ENCRYPTION_KEY=SSH_KEY, SSH_ENCRYPTION_KEY_PREVIOUS=""))
    assert config.report.ok and config.plain("SSH_ENCRYPTION_KEY_PREVIOUS") is None
