"""Reusable single-value rules: when they fire, at which level, in which modes."""

from __future__ import annotations

import pytest

from ocore_flask.config import Context, Mode, rules

STRICT = Context(Mode.PRODUCTION, {})
DEV = Context(Mode.DEVELOPMENT, {})
STRONG = "Zq8vL3nR5tW9yB2dF6hK1mP4sX7cV0aE"


# --- min_length ---------------------------------------------------------------------------


def test_min_length_passes_at_the_limit_and_fails_below() -> None:
    check = rules.min_length(32)
    assert check.test("x" * 32, STRICT) is None
    message = check.test("s3cr3t-short", STRICT)
    assert message is not None
    assert "at least 32 characters (it has 12)" in message
    assert "s3cr3t-short" not in message


def test_min_length_names_the_fix() -> None:
    assert rules.GENERATE_HINT in rules.min_length(8).test("x", DEV)
    assert "do this" in rules.min_length(8, fix="do this").test("x", DEV)


def test_min_length_applies_where_declared() -> None:
    everywhere, strict_only = rules.min_length(32), rules.min_length(32, applies="strict")
    assert everywhere.applies_to(Mode.DEVELOPMENT) and everywhere.applies_to(Mode.STAGING)
    assert not strict_only.applies_to(Mode.DEVELOPMENT)
    assert strict_only.applies_to(Mode.STAGING) and strict_only.applies_to(Mode.PRODUCTION)


# --- strong_secret ------------------------------------------------------------------------


def test_strong_secret_is_a_strict_error() -> None:
    check = rules.strong_secret()
    assert check.level == "error"
    assert check.applies_to(Mode.PRODUCTION) and check.applies_to(Mode.STAGING)
    assert not check.applies_to(Mode.DEVELOPMENT)


def test_strong_secret_accepts_a_random_value() -> None:
    assert rules.strong_secret().test(STRONG, STRICT) is None


@pytest.mark.parametrize(
    "value",
    [
        "<openssl rand -base64 48>",
        "changeme-changeme-changeme-1234567890",
        "CHANGE_ME_abcdefghijklmnopqrstuvwxyz",
        "my-PASSWORD-is-long-enough-0123456789",
        "TODO-fill-in-later-abcdefghijklmnopqr",
    ],
)
def test_strong_secret_rejects_placeholders(value: str) -> None:
    message = rules.strong_secret().test(value, STRICT)
    assert message is not None and "placeholder" in message
    assert value not in message


@pytest.mark.parametrize(
    ("value", "distinct"), [("a" * 64, 1), ("ab" * 32, 2), ("abcdefghi" * 4, 9)]
)
def test_strong_secret_rejects_few_distinct_characters(value: str, distinct: int) -> None:
    message = rules.strong_secret().test(value, STRICT)
    assert message is not None and "too predictable" in message
    assert f"({distinct} distinct characters, at least {rules.MIN_DISTINCT}" in message


def test_strong_secret_accepts_enough_distinct_characters() -> None:
    assert rules.strong_secret().test("abcdefghij" * 4, STRICT) is None


def test_strong_secret_fix_is_customisable() -> None:
    assert "back it up" in rules.strong_secret(fix="back it up").test("a" * 40, STRICT)


# --- hosts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "app.localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"]
)
def test_loopback_hosts(host: str) -> None:
    assert rules.is_loopback_host(host)


@pytest.mark.parametrize(
    "host", [None, "", "example.com", "localhost.example.com", "10.0.0.1", "::2"]
)
def test_non_loopback_hosts(host: str | None) -> None:
    assert not rules.is_loopback_host(host)


def test_is_ip_address() -> None:
    assert rules.is_ip_address("10.1.2.3") and rules.is_ip_address("[2001:db8::1]")
    assert not rules.is_ip_address("example.com")
    assert not rules.is_ip_address("300.1.1.1")


# --- URL rules ----------------------------------------------------------------------------


def test_not_loopback_url_is_a_strict_warning() -> None:
    check = rules.not_loopback_url("your public URL")
    assert check.level == "warning"
    assert not check.applies_to(Mode.DEVELOPMENT) and check.applies_to(Mode.STAGING)
    message = check.test("http://localhost:3000", STRICT)
    assert message is not None and "your public URL" in message
    assert check.test("https://ocore.example.com", STRICT) is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://ocore.example.com", True),
        ("http://ocore.example.com", False),
        ("http://10.0.0.5:3000", False),
        ("http://localhost:3000", True),
        ("http://127.0.0.1:3000", True),
    ],
)
def test_https_only(url: str, ok: bool) -> None:
    check = rules.https_only("your https origin")
    assert check.level == "error"
    assert not check.applies_to(Mode.DEVELOPMENT)
    message = check.test(url, STRICT)
    assert (message is None) is ok
    if not ok:
        assert "https" in message and "your https origin" in message
