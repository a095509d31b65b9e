"""Secrets with different purposes differ (strict modes): one rule over every setting declared
secret, whoever declares it; each pair shape is an error naming both variables and never the
value. ``X_PREVIOUS`` shares ``X``'s purpose; development allows reuse (documented)."""

from __future__ import annotations

import pytest

from ocore_database.testing import first_party_plugins
from ocore_flask.config import Config, Mode, Setting, kinds, make_section, resolve
from ocore_flask.config.distinct import reused_secrets
from ocore_flask.discovery import load_plugins
from ocore_flask.plugin import Plugin
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, SSH_KEY, strict_environ

SHARED = "shared-Vq4Wz8Kt2Lm6Np0Rs3Xu7Yb1Cd5Fg9H"
DB_PASSWORD = "db-Hy6Tg2Bn8Jm4Kl0Pq3Rw7Ez1Xc5Vs9A"
SMTP_PASSWORD = "smtp-Vb7Nc2Xz9Lk4Jh1Gf6Ds3Aq8Wm0Pe5"
OLD_KEY = "old-ssh-Qw3Er6Ty9Ui2Op5As8Df1Gh4Jk7L"
ACME = Plugin(
    "acme",
    settings=make_section(
        "AcmeSettings",
        [Setting("ACME_API_TOKEN", kinds.text(), "a third party's secret", secret=True)],
    ),
)


def environment(mode: str = "production", **overrides: str) -> dict[str, str]:
    """Every first-party secret set, each to its own value."""
    defaults = {
        "ENVIRONMENT": mode,
        "DATABASE_URL": f"postgres://ocore:{DB_PASSWORD}@db:5432/ocore?sslmode=require",
        "SSH_ENCRYPTION_KEY": SSH_KEY,
        "SMTP_HOST": "smtp.example.com",
        "SMTP_USERNAME": "apikey",
        "SMTP_PASSWORD": SMTP_PASSWORD,
    }
    return strict_environ(**{**defaults, **overrides})


def resolved(environ: dict[str, str]) -> Config:
    found = load_plugins(environ, [*first_party_plugins(), ACME])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def reuse_errors(config: Config) -> list[tuple[str, str]]:
    return [(p.variable, p.message) for p in config.report.errors if "same value" in p.message]


def test_distinct_secrets_pass_in_every_strict_mode() -> None:
    for mode in ("staging", "production"):
        config = resolved(environment(mode, ACME_API_TOKEN=SHARED))
        assert config.report.ok, config.report.render_text()


# (overrides, the two variables, a fragment of the message). The error is reported on the one
# declared later (host first, then plugins in load order) and names the other.
PAIRS = [
    ({"SSH_ENCRYPTION_KEY": JWT_SECRET}, "SSH_ENCRYPTION_KEY", "JWT_SECRET", "has the same"),
    ({"HEALTH_CHECK_TOKEN": JWT_SECRET}, "HEALTH_CHECK_TOKEN", "JWT_SECRET", "has the same"),
    (
        {"HEALTH_CHECK_TOKEN_PREVIOUS": JWT_SECRET},
        "HEALTH_CHECK_TOKEN_PREVIOUS",
        "JWT_SECRET",
        "has the same",
    ),
    ({"SSH_ENCRYPTION_KEY": HEALTH_TOKEN}, "SSH_ENCRYPTION_KEY", "HEALTH_CHECK_TOKEN", "has the"),
    (
        {"SSH_ENCRYPTION_KEY_PREVIOUS": f"{OLD_KEY},{JWT_SECRET}"},
        "SSH_ENCRYPTION_KEY_PREVIOUS",
        "JWT_SECRET",
        "entry #2 has the same",
    ),
    (
        {"SSH_ENCRYPTION_KEY_PREVIOUS": HEALTH_TOKEN},
        "SSH_ENCRYPTION_KEY_PREVIOUS",
        "HEALTH_CHECK_TOKEN",
        "entry #1 has the same",
    ),
    ({"SMTP_PASSWORD": JWT_SECRET}, "SMTP_PASSWORD", "JWT_SECRET", "has the same"),
    ({"SMTP_PASSWORD": SSH_KEY}, "SMTP_PASSWORD", "SSH_ENCRYPTION_KEY", "has the same"),
    ({"SMTP_PASSWORD": DB_PASSWORD}, "SMTP_PASSWORD", "DATABASE_URL", "has the same"),
    (
        {"DATABASE_URL": f"postgres://ocore:{JWT_SECRET}@db/ocore"},
        "DATABASE_URL",
        "JWT_SECRET",
        "has the same",
    ),
    (
        {"DATABASE_URL": f"postgres://ocore@db/ocore?sslmode=require&sslpassword={SSH_KEY}"},
        "DATABASE_URL",
        "SSH_ENCRYPTION_KEY",
        "has the same",
    ),
    ({"ACME_API_TOKEN": JWT_SECRET}, "ACME_API_TOKEN", "JWT_SECRET", "has the same"),
]


@pytest.mark.parametrize("mode", ["staging", "production"])
@pytest.mark.parametrize(("overrides", "one", "another", "fragment"), PAIRS)
def test_a_secret_reused_for_another_purpose_is_an_error_naming_both(
    mode: str, overrides: dict[str, str], one: str, another: str, fragment: str
) -> None:
    config = resolved(environment(mode, **overrides))
    assert not config.report.ok
    ((variable, message),) = reuse_errors(config)
    assert variable in (one, another)
    assert (another if variable == one else one) in message and fragment in message
    assert "must differ" in message and "openssl rand" in message
    text = config.report.render_text() + repr(config.report.to_dict())
    for value in (JWT_SECRET, SSH_KEY, HEALTH_TOKEN, DB_PASSWORD, OLD_KEY, SMTP_PASSWORD):
        assert value not in text


def test_three_secrets_sharing_one_value_give_one_error_per_later_one() -> None:
    env = environment(HEALTH_CHECK_TOKEN=SHARED, JWT_SECRET=SHARED, SSH_ENCRYPTION_KEY=SHARED)
    assert reuse_errors(resolved(env)) == [
        (
            "HEALTH_CHECK_TOKEN",
            "has the same value as JWT_SECRET: secrets with different purposes must differ in "
            "staging/production; give each its own value, e.g. openssl rand -base64 48 (then "
            "restart everything using it)",
        ),
        (
            "SSH_ENCRYPTION_KEY",
            "has the same value as JWT_SECRET: secrets with different purposes must differ in "
            "staging/production; give each its own value, e.g. openssl rand -base64 48 (then "
            "restart everything using it)",
        ),
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"HEALTH_CHECK_TOKEN_PREVIOUS": HEALTH_TOKEN},  # rotation not finished: same purpose
        {"SSH_ENCRYPTION_KEY_PREVIOUS": f"{OLD_KEY},{SSH_KEY}"},
    ],
)
def test_a_previous_value_may_equal_its_current_one(overrides: dict[str, str]) -> None:
    config = resolved(environment(**overrides))
    assert reuse_errors(config) == [], config.report.render_text()


def test_development_allows_reuse() -> None:
    """Development derives the vault key from JWT_SECRET anyway (HKDF under its own label) and
    its env files are throwaway: reuse there is neither an error nor a warning."""
    env = environment(
        "development",
        HEALTH_CHECK_TOKEN=JWT_SECRET,
        SSH_ENCRYPTION_KEY=JWT_SECRET,
        SMTP_PASSWORD=JWT_SECRET,
        ACME_API_TOKEN=JWT_SECRET,
    )
    config = resolved(env)
    assert config.report.ok and not any("same value" in p.message for p in config.report.problems)


def test_an_invalid_secret_is_not_also_blamed_for_reuse() -> None:
    config = resolved(environment(SSH_ENCRYPTION_KEY=f" {JWT_SECRET}"))
    assert [p.variable for p in config.report.errors] == ["SSH_ENCRYPTION_KEY"]
    assert reuse_errors(config) == []


def test_the_rule_reads_declarations_not_names() -> None:
    """Any setting declared secret takes part; one not declared secret does not."""
    token = Setting("X_TOKEN", kinds.text(), "secret", secret=True, owner="x")
    other = Setting("X_OTHER", kinds.text(), "secret too", secret=True, owner="y")
    plain = Setting("X_PLAIN", kinds.text(), "not secret", owner="y")
    values = {"X_TOKEN": SHARED, "X_OTHER": SHARED, "X_PLAIN": SHARED}
    (problem,) = reused_secrets(Mode.STAGING, [token, plain, other], values)
    assert (problem.variable, problem.owner) == ("X_OTHER", "y")
    assert "X_TOKEN" in problem.message and SHARED not in problem.message
    assert reused_secrets(Mode.DEVELOPMENT, [token, other], values) == []
