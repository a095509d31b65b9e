"""Value kinds: what each accepts, what it rejects, and that its messages never quote the input."""

from __future__ import annotations

import pytest

from ocore_flask.config import Duration, kinds


def rejects(kind, raw: str) -> str:
    """The kind's message for ``raw``, which must be rejected with a ValueError."""
    with pytest.raises(ValueError) as info:
        kind.parse(raw)
    return str(info.value)


# --- text ---------------------------------------------------------------------------------


def test_text_keeps_one_line_verbatim() -> None:
    assert kinds.text().parse("a b\tc ${HOME} $(id)") == "a b\tc ${HOME} $(id)"


@pytest.mark.parametrize("raw", ["one\ntwo", "one\rtwo", "nul\x00byte"])
def test_text_rejects_line_breaks_and_nul(raw: str) -> None:
    message = rejects(kinds.text(), raw)
    assert "single line" in message
    assert raw not in message


# --- integer ------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("42", 42), ("+7", 7), ("-3", -3)])
def test_integer_parses_whole_numbers(raw: str, value: int) -> None:
    assert kinds.integer().parse(raw) == value


@pytest.mark.parametrize(
    "raw", ["", "abc", "1.5", "1e3", "1_000", "0x10", "٣", "１", " 1", "1 ", "5\n", "\n5"]
)
def test_integer_rejects_anything_but_ascii_digits(raw: str) -> None:
    assert "whole number" in rejects(kinds.integer(), raw)


def test_integer_bounds_are_inclusive_and_named_in_the_message() -> None:
    kind = kinds.integer(1, 10)
    assert kind.parse("1") == 1 and kind.parse("10") == 10
    assert "from 1 to 10" in rejects(kind, "0")
    assert "from 1 to 10" in rejects(kind, "11")
    assert ">= 0" in rejects(kinds.integer(0), "-1")
    assert "<= 5" in rejects(kinds.integer(maximum=5), "6")


def test_integer_message_does_not_quote_the_value() -> None:
    assert "hunter2" not in rejects(kinds.integer(), "hunter2")


# --- boolean ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "On"])
def test_boolean_truthy(raw: str) -> None:
    assert kinds.boolean().parse(raw) is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", "OFF"])
def test_boolean_falsy(raw: str) -> None:
    assert kinds.boolean().parse(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "", "2", "y", "tru"])
def test_boolean_rejects_other_words(raw: str) -> None:
    assert "true or false" in rejects(kinds.boolean(), raw)


def test_boolean_renders_lowercase_words() -> None:
    kind = kinds.boolean()
    assert (kind.render(True), kind.render(False)) == ("true", "false")


# --- port ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "587", "65535"])
def test_port_accepts_the_tcp_range(raw: str) -> None:
    assert kinds.port().parse(raw) == int(raw)


@pytest.mark.parametrize("raw", ["0", "65536", "-1", "http", "80.0", ""])
def test_port_rejects_outside_the_range(raw: str) -> None:
    assert "1 to 65535" in rejects(kinds.port(), raw)


# --- duration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"), [("1h30m", "1h30m0s"), ("500ms", "500ms"), ("90s", "1m30s"), ("2h", "2h0m0s")]
)
def test_duration_parses_go_durations(raw: str, text: str) -> None:
    value = kinds.duration().parse(raw)
    assert isinstance(value, Duration)
    assert str(value) == text
    assert kinds.duration().render(value) == text


@pytest.mark.parametrize("raw", ["0", "0s", "-1s", "-1h30m"])
def test_positive_duration_rejects_zero_and_negative(raw: str) -> None:
    assert "greater than zero" in rejects(kinds.duration(), raw)


def test_non_positive_duration_allows_zero() -> None:
    assert kinds.duration(positive=False).parse("0") == 0


@pytest.mark.parametrize("raw", ["15", "1 h", "1d", "h", "1.h.", "twelve parsecs"])
def test_duration_rejections_explain_the_units_without_quoting(raw: str) -> None:
    message = rejects(kinds.duration(), raw)
    assert "ns, us, ms, s, m, h" in message
    assert f'"{raw}"' not in message


# --- choice -------------------------------------------------------------------------------


def test_choice_accepts_exact_words_only() -> None:
    kind = kinds.choice("auto", "tls", "none")
    assert kind.parse("tls") == "tls"
    assert "one of auto, tls, none" in rejects(kind, "TLS")


def test_choice_ignore_case_normalises() -> None:
    assert kinds.choice("info", "debug", ignore_case=True).parse("DEBUG") == "debug"


@pytest.mark.parametrize(("raw", "hint"), [("prod", "production"), ("stagin", "staging")])
def test_choice_near_miss_suggests(raw: str, hint: str) -> None:
    message = rejects(kinds.choice("development", "staging", "production"), raw)
    assert f"did you mean {hint!r}" in message


def test_choice_far_miss_has_no_suggestion() -> None:
    assert "did you mean" not in rejects(kinds.choice("development", "production"), "zzz")


# --- http_url / origin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("https://ocore.example.com/", "https://ocore.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://example.com/app/", "https://example.com/app/"),
    ],
)
def test_http_url_accepts_absolute_urls(raw: str, value: str) -> None:
    assert kinds.http_url().parse(raw) == value


@pytest.mark.parametrize(
    "raw", ["ftp://example.com", "example.com", "localhost:3000", "https://", "http://:80", "//x"]
)
def test_http_url_rejects_non_http_or_relative(raw: str) -> None:
    assert "absolute http" in rejects(kinds.http_url(), raw)


@pytest.mark.parametrize(
    "raw", ["http://example.com:99999", "http://example.com:port", "http://[::1"]
)
def test_http_url_bad_port_or_host_is_a_value_error(raw: str) -> None:
    assert "not a valid URL" in rejects(kinds.http_url(), raw)


def test_origin_keeps_scheme_host_and_port() -> None:
    assert kinds.origin().parse("https://login.example.com:8443/") == (
        "https://login.example.com:8443"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "https://example.com/path",
        "https://example.com/?q=1",
        "https://example.com/#frag",
        "https://user:pw@example.com",
    ],
)
def test_origin_rejects_anything_beyond_an_origin(raw: str) -> None:
    message = rejects(kinds.origin(), raw)
    assert "origin only" in message
    assert "pw" not in message


def test_origin_rejects_missing_scheme() -> None:
    assert "scheme and host" in rejects(kinds.origin(), "example.com")


# --- hostname -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("DB.Example.com", "db.example.com"),
        ("localhost", "localhost"),
        ("10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("fe80::1:2", "fe80::1:2"),
        ("example.com.", "example.com."),
    ],
)
def test_hostname_accepts_names_and_addresses(raw: str, value: str) -> None:
    assert kinds.hostname().parse(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        "http://example.com",
        "example.com:25",
        "example.com/x",
        "-bad.example.com",
        "bad-.example.com",
        "a..b",
        "exa mple.com",
        "a" * 64 + ".com",
        ("a" * 60 + ".") * 5,
        "",
    ],
)
def test_hostname_rejects_urls_ports_and_bad_labels(raw: str) -> None:
    assert "host name or IP address" in rejects(kinds.hostname(), raw)


@pytest.mark.parametrize("raw", [":::::", "::::::::::", "1:2:3:4:5:6:7:8:9", "1::2::3"])
def test_hostname_rejects_colon_soup_that_is_no_ipv6_address(raw: str) -> None:
    assert "host name or IP address" in rejects(kinds.hostname(), raw)


# --- lists --------------------------------------------------------------------------------


def test_names_list_splits_and_trims() -> None:
    kind = kinds.names_list()
    assert kind.parse("mail, ssh,,") == ("mail", "ssh")
    assert kind.parse("") == ()
    assert kind.render(("mail", "ssh")) == "mail,ssh"


@pytest.mark.parametrize("raw", ["Mail", "mail;ssh", "1mail", "my-plugin"])
def test_names_list_rejects_non_identifiers(raw: str) -> None:
    assert "plugin names" in rejects(kinds.names_list(), raw)


def test_secret_list_splits_trims_and_drops_empties() -> None:
    kind = kinds.secret_list()
    assert kind.parse("a , b,,c") == ("a", "b", "c")
    assert kind.parse(",") == ()
    assert kind.render(("a", "b")) == "a,b"


# --- did_you_mean -------------------------------------------------------------------------


def test_did_you_mean_prefers_a_unique_prefix() -> None:
    assert kinds.did_you_mean("dev", ["development", "staging", "production"]) == "development"


def test_did_you_mean_uses_similarity_and_gives_up_when_far() -> None:
    names = ["JWT_SECRET", "JWT_ACCESS_EXPIRY"]
    assert kinds.did_you_mean("JWT_SECERT", names) == "JWT_SECRET"
    assert kinds.did_you_mean("COMPLETELY_ELSE", names) is None
    assert kinds.did_you_mean("", names) is None
