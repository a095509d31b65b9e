"""Secrets: the wrapper never shows its value, the fingerprint format, and no secret value
reaches a report, a repr, a rendered view or an exception text."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle

import pytest

from ocore_database.testing import first_party_plugins
from ocore_flask.config import ConfigError, Secret, load, render, resolve, reveal
from ocore_flask.config.fingerprint import fingerprint
from ocore_flask.config.secrets import secret_summary
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, SSH_KEY

DB_PASSWORD = "S3cr3t-P@ss"
DB_PASSWORD_ENCODED = "S3cr3t-P%40ss"
SMTP_PASSWORD = "smtp-Vb7Nc2Xz9Lk4Jh1Gf6Ds3Aq8"
OLD_KEY = "old-ssh-Qw3Er6Ty9Ui2Op5As8Df1Gh4Jk7L"

# Fragments that must never appear (long enough that no message contains them by chance).
NEEDLES = (
    JWT_SECRET,
    SSH_KEY,
    HEALTH_TOKEN,
    DB_PASSWORD,
    DB_PASSWORD_ENCODED,
    SMTP_PASSWORD,
    OLD_KEY,
    "too-short-jwt-9f",
)


# --- the wrapper --------------------------------------------------------------------------


def test_secret_summary_is_a_keyed_fingerprint_without_the_length() -> None:
    key = bytes(range(32))
    shown = secret_summary(JWT_SECRET, key)
    assert shown == f"set (local fingerprint {fingerprint(key, JWT_SECRET)})"
    assert hashlib.sha256(JWT_SECRET.encode()).hexdigest()[:8] not in shown
    assert str(len(JWT_SECRET)) not in shown and "chars" not in shown


def test_secret_summary_without_a_key_shows_no_hash_at_all() -> None:
    assert (
        secret_summary(JWT_SECRET, None)
        == "set (no fingerprint: the local key file is unavailable)"
    )


def test_secret_summary_handles_lone_surrogates() -> None:
    assert secret_summary("\udcff", bytes(32)).startswith("set (local fingerprint ")


def test_a_secret_is_described_lazily_and_once() -> None:
    calls = []
    secret = Secret(JWT_SECRET, lambda: calls.append(1) or "set (x)")
    assert calls == []
    assert repr(secret) == str(secret) == "Secret(set (x))"
    assert calls == [1]


def test_secret_never_shows_its_value() -> None:
    secret = Secret(JWT_SECRET, "set (…)")
    for shown in (repr(secret), str(secret), f"{secret}", format(secret), f"{secret!r}"):
        assert JWT_SECRET not in shown
    assert repr(secret) == "Secret(set (…))"
    assert JWT_SECRET not in repr([secret]) and JWT_SECRET not in repr({"k": secret})


def test_secret_reveal_and_equality() -> None:
    a, b = Secret(JWT_SECRET, "a"), Secret(JWT_SECRET, "a")
    assert a.reveal() == JWT_SECRET
    assert a == b and a != Secret(SSH_KEY, "a") and a != JWT_SECRET
    assert hash(a) == hash(b)
    assert reveal(a) == JWT_SECRET and reveal(5) == 5


def test_secret_cannot_be_pickled_or_grow_attributes() -> None:
    secret = Secret(JWT_SECRET, "x")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    with pytest.raises(AttributeError):
        secret.extra = 1  # type: ignore[attr-defined]


# --- nothing leaks ------------------------------------------------------------------------


VALID_SECRETS = {
    "JWT_SECRET": JWT_SECRET,
    "SSH_ENCRYPTION_KEY": SSH_KEY,
    "SSH_ENCRYPTION_KEY_PREVIOUS": OLD_KEY,
    "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
    "DATABASE_URL": f"postgres://ocore:{DB_PASSWORD_ENCODED}@db:5432/ocore?sslmode=disable",
    "SMTP_USERNAME": "apikey",
    "SMTP_PASSWORD": SMTP_PASSWORD,
}

INVALID_SECRETS = [
    {"JWT_SECRET": "too-short-jwt-9f"},
    {"JWT_SECRET": f" {JWT_SECRET}"},
    {"JWT_SECRET": f"{JWT_SECRET}\n{SSH_KEY}"},
    {"SSH_ENCRYPTION_KEY": SSH_KEY + "\x00"},
    {"SSH_ENCRYPTION_KEY_PREVIOUS": f"{OLD_KEY},{SMTP_PASSWORD[:20]}"},
    {"HEALTH_CHECK_TOKEN": HEALTH_TOKEN + "\r"},
    {"HEALTH_CHECK_TOKEN_PREVIOUS": HEALTH_TOKEN, "HEALTH_CHECK_TOKEN": ""},
    {"DATABASE_URL": f"postgres://ocore:{DB_PASSWORD}@db:5432/ocore"},
    {"DATABASE_URL": f"mysql://ocore:{DB_PASSWORD_ENCODED}@db/ocore"},
    {"DATABASE_URL": f"postgres://ocore:{DB_PASSWORD_ENCODED}@db:99999/ocore"},
    {"DATABASE_URL": f"postgres://ocore:{DB_PASSWORD_ENCODED}@db/ocore?sslmode=nope"},
    {"DATABASE_URL": f"postgres://ocore:{DB_PASSWORD_ENCODED}@db"},
    {"DATABASE_URL": f"postgres://ocore:{DB_PASSWORD_ENCODED}@/ocore"},
    {"SMTP_PASSWORD": SMTP_PASSWORD, "SMTP_USERNAME": ""},
    {"SMTP_PASSWORD": SMTP_PASSWORD, "SMTP_TLS": "none"},
    {"JWT_SECERT": JWT_SECRET, "SSH_ENCRYPTON_KEY": SSH_KEY},
]


def outputs(environ: dict[str, str]) -> list[str]:
    """Everything the config core can print or raise for ``environ``."""
    found = load_plugins(environ, first_party_plugins())
    config = resolve(environ, found.settings, found.cross_rules, found.problems)
    texts = [
        config.report.render_text(),
        json.dumps(config.report.to_dict()),
        repr(config.report),
        repr(config),
        json.dumps(render.show_rows(config), default=str),
        render.markdown(found.settings, found.cross_rules),
        render.example_env(found.settings, found.cross_rules),
    ]
    texts += [config.describe(name) for name in config.settings]
    texts += [repr(config.get(name)) + str(config.get(name)) for name in config]
    try:
        load(environ, found.settings, found.cross_rules, found.problems)
    except ConfigError as exc:
        texts += [str(exc), repr(exc), exc.render(), repr(exc.args)]
    return texts


@pytest.mark.parametrize("mode", ["development", "production"])
def test_valid_secrets_never_reach_any_output(mode: str) -> None:
    environ = {"ENVIRONMENT": mode, **VALID_SECRETS, "SMTP_HOST": "smtp.example.com"}
    texts = outputs(environ)
    for needle in NEEDLES:
        assert not any(needle in text for text in texts), needle


@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize("broken", INVALID_SECRETS, ids=lambda d: ",".join(d))
def test_invalid_secrets_never_reach_any_output(mode: str, broken: dict[str, str]) -> None:
    environ = {"ENVIRONMENT": mode, **VALID_SECRETS, **broken}
    texts = outputs(environ)
    for needle in NEEDLES:
        assert not any(needle in text for text in texts), needle


def test_the_invalid_cases_are_really_invalid_or_warned() -> None:
    for broken in INVALID_SECRETS:
        environ = {"ENVIRONMENT": "production", **VALID_SECRETS, **broken}
        found = load_plugins(environ, first_party_plugins())
        report = resolve(environ, found.settings, found.cross_rules, found.problems).report
        assert report.problems, broken
        assert {p.variable for p in report.problems} & set(broken), broken
