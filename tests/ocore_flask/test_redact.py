"""Tests for credential scrubbing of health data."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocore_flask.redact import (
    Scrubber,
    is_secret_key,
    redact_query,
    scrub,
    scrub_text,
    secret_query_values,
)

RSA_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB
aFDrBz9vFqU4yq/7hxKNi2xJ0e5+0dWc1V9mZUOw==
-----END RSA PRIVATE KEY-----"""

OPENSSH_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDk8u3f6kmq0eSg3yT8Zf2rU3dAFxQqBfE=
-----END OPENSSH PRIVATE KEY-----"""


def test_configured_secrets_are_masked_everywhere() -> None:
    value = {
        "message": "connect failed with hunter2-pass",
        "servers": [{"note": "hunter2-pass!"}, ("x", "pre-hunter2-pass-post")],
    }
    assert scrub(value, ["hunter2-pass"]) == {
        "message": "connect failed with ***",
        "servers": [{"note": "***!"}, ("x", "pre-***-post")],
    }


def test_secrets_shorter_than_four_characters_are_ignored() -> None:
    assert scrub_text("open=3 abc", ["abc", "3"]) == "open=3 abc"


def test_longer_secret_containing_a_shorter_one_is_masked_whole() -> None:
    assert scrub_text("key=xx abcdefgh", ["abcd", "abcdefgh"]) == "key=xx ***"


def test_url_encoded_secret_is_masked() -> None:
    assert scrub_text("dsn host/db p%40ss%2Fword", ["p@ss/word"]) == "dsn host/db ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://app:pw0rd@db:5432/app", "postgres://app:***@db:5432/app"),
        ("failed: postgres://app:p@ss@db/app down", "failed: postgres://app:***@db/app down"),
        ("smtp://:only-pass@mail", "smtp://:***@mail"),
        ("redis://user@host:6379/0", "redis://user@host:6379/0"),
        ("https://example.com:8443/path?q=1", "https://example.com:8443/path?q=1"),
    ],
)
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("key", [RSA_KEY, OPENSSH_KEY])
def test_private_key_blocks_are_masked(key: str) -> None:
    out = scrub_text(f"loaded key:\n{key}\nthen failed")
    assert "MIIEow" not in out
    assert "b3BlbnNz" not in out
    assert out.startswith("loaded key:\n-----BEGIN ")
    assert out.endswith("PRIVATE KEY-----***\nthen failed")


def test_unterminated_private_key_is_masked_to_the_end() -> None:
    out = scrub_text("key: " + RSA_KEY[:90])
    assert out == "key: -----BEGIN RSA PRIVATE KEY-----***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent Bearer abc.def-ghi_jkl", "sent Bearer ***"),
        ("header authorization: bearer abc123", "header authorization: bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNz, retrying", "Authorization: Basic ***, retrying"),
        ('{"Authorization": "Token xyz987"}', '{"Authorization": "Token ***"}'),
        ("Proxy-Authorization=abc", "Proxy-Authorization=***"),
    ],
)
def test_bearer_and_authorization_values_are_masked(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=db password=hunter2 user=app", "host=db password=*** user=app"),
        ("PASSWD: hunter2", "PASSWD: ***"),
        ("pwd=abc;next", "pwd=***;next"),
        ("client_secret=abc&grant=x", "client_secret=***&grant=x"),
        ("https://api/x?access_token=abc&page=2", "https://api/x?access_token=***&page=2"),
        ('{"db_password": "a b c"}', '{"db_password": "***"}'),
        ("api_key='k 1'", "api_key='***'"),
    ],
)
def test_secret_key_value_pairs_in_text_are_masked(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DB_PASSWORD",
        "secret",
        "jwt_secret_key",
        "token",
        "HEALTH_CHECK_TOKEN",
        "private_key",
        "privateKey",
        "passphrase",
        "Authorization",
        "api_key",
        "apiKey",
        "api-key",
    ],
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)
    assert scrub({key: "value", "keep": 1}) == {key: "***", "keep": 1}


@pytest.mark.parametrize("key", ["host", "open_connections", "status", "last_error", "user"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_secret_key_masks_nested_values_but_keeps_flags() -> None:
    value = {"credentials": {"password": {"old": "a", "new": "b"}}, "has_token": True}
    value["token"] = None
    assert scrub(value) == {
        "credentials": {"password": "***"},
        "has_token": True,
        "token": None,
    }


def test_dict_keys_are_scrubbed_too() -> None:
    assert scrub({"postgres://app:pw@db/app": {"open": 1}}) == {
        "postgres://app:***@db/app": {"open": 1}
    }


def test_ordinary_data_is_unchanged_and_input_is_not_mutated() -> None:
    value = {
        "open": 3,
        "idle": 2.5,
        "ok": True,
        "servers": ["web-1", "web-2"],
        "last_error": "connection refused by 10.0.0.5:22",
        "url": "https://status.example.com/api?page=2",
        "password": "x",
    }
    snapshot = repr(value)
    out = scrub(value, ["hunter2-pass"])
    assert repr(value) == snapshot
    assert out == {**value, "password": "***"}


def test_scrubbing_small_payloads_is_fast() -> None:
    scrubber = Scrubber(["hunter2-pass", "another-secret"])
    payload = {
        "open": 3,
        "servers": [{"host": f"web-{i}", "last_error": "timeout after 5s"} for i in range(10)],
        "dsn": "postgres://app:hunter2-pass@db/app",
    }
    started = time.perf_counter()
    for _ in range(1000):
        scrubber.scrub(payload)
    # A few milliseconds per thousand on a laptop; the bound only catches pathological regexes.
    assert time.perf_counter() - started < 2.0


def test_long_text_without_secrets_scrubs_in_linear_time() -> None:
    text = "a.b-c " * 20_000 + "://" + "x" * 10_000
    started = time.perf_counter()
    scrub_text(text, ["hunter2-pass"])
    assert time.perf_counter() - started < 1.0


_TEXT = st.text(alphabet="abc:/@=*& \n-_.x", max_size=40)


@given(
    secret=st.text(alphabet="abcdefgh:/@=&-_.", min_size=4, max_size=12),
    before=_TEXT,
    after=_TEXT,
)
def test_configured_secret_never_survives(secret: str, before: str, after: str) -> None:
    out = scrub({"m": before + secret + after, "l": [secret]}, [secret])
    assert secret not in out["m"]
    assert out["l"] == ["***"]


def test_redact_query_masks_every_secret_named_key_and_keeps_the_rest() -> None:
    query = "sslmode=require&sslpassword=s%3Dx&Password=p&api-key=k&flag&empty=&app=o%20k"
    assert redact_query(query) == (
        "sslmode=require&sslpassword=***&Password=***&api-key=***&flag&empty=&app=o%20k"
    )
    assert redact_query("") == ""


def test_secret_query_values_gives_each_form_of_each_secret_value() -> None:
    assert secret_query_values("sslpassword=a%2Bb+c&sslmode=require&token=") == [
        "a%2Bb+c",
        "a+b+c",
        "a+b c",
    ]
    assert secret_query_values("sslmode=require&application_name=x") == []
