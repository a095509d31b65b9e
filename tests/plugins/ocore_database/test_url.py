"""DATABASE_URL parsing: what is accepted, every rejection with a useful message, and the
password kept out of every message, repr and redacted form."""

from __future__ import annotations

import pytest

from ocore_database.url import SSLMODES, DatabaseURL, parse_database_url

PASSWORD = "S3cr3t-P@ss"
ENCODED = "S3cr3t-P%40ss"
GOOD = f"postgres://ocore:{ENCODED}@db.internal:6543/ocore_prod?sslmode=verify-full"


def rejected(raw: str) -> str:
    with pytest.raises(ValueError) as info:
        parse_database_url(raw)
    return str(info.value)


def test_a_complete_url_is_parsed_and_decoded() -> None:
    url = parse_database_url(GOOD)
    assert (url.host, url.port, url.database) == ("db.internal", 6543, "ocore_prod")
    assert (url.user, url.password, url.sslmode) == ("ocore", PASSWORD, "verify-full")
    assert url.raw == GOOD


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_both_schemes_are_accepted(scheme: str) -> None:
    url = parse_database_url(f"{scheme}://db/ocore")
    assert (url.host, url.port, url.database) == ("db", 5432, "ocore")
    assert url.user is None and url.password is None and url.sslmode is None
    assert url.sqlalchemy_url == "postgresql+psycopg2://db/ocore"


def test_a_socket_directory_may_come_from_the_host_parameter() -> None:
    url = parse_database_url("postgres:///ocore?host=/var/run/postgresql")
    assert url.host == "/var/run/postgresql" and url.database == "ocore"


def test_encoded_special_characters_in_credentials_are_decoded() -> None:
    url = parse_database_url("postgres://us%40er:p%3Aa%2Fs%40s@db/ocore")
    assert (url.user, url.password) == ("us@er", "p:a/s@s")


@pytest.mark.parametrize("mode", SSLMODES)
def test_every_libpq_sslmode_is_accepted(mode: str) -> None:
    assert parse_database_url(f"postgres://db/ocore?sslmode={mode}").sslmode == mode


@pytest.mark.parametrize(
    "raw",
    [
        "mysql://ocore:pw@db/ocore",
        "http://db/ocore",
        "postgres:/db/ocore",
        "db:5432/ocore",
        "postgresql+psycopg2://db/ocore",
        "",
    ],
)
def test_wrong_scheme(raw: str) -> None:
    message = rejected(raw)
    assert "postgres:// or postgresql://" in message


@pytest.mark.parametrize("raw", ["postgres:///ocore", "postgres://ocore:pw@/ocore", "postgres://"])
def test_no_host(raw: str) -> None:
    assert "has no host" in rejected(raw)


@pytest.mark.parametrize("raw", ["postgres://db", "postgres://db/", "postgres://db/a/b"])
def test_no_database(raw: str) -> None:
    assert "no database name" in rejected(raw)


@pytest.mark.parametrize("mode", ["required", "on", "true", "VERIFY-FULL", ""])
def test_unknown_sslmode(mode: str) -> None:
    message = rejected(f"postgres://db/ocore?sslmode={mode}")
    assert "unknown sslmode" in message and "verify-full" in message


@pytest.mark.parametrize("port", ["99999", "abc", "-1"])
def test_invalid_port(port: str) -> None:
    assert "invalid host or port" in rejected(f"postgres://ocore:pw@db:{port}/ocore")


@pytest.mark.parametrize(
    "password", ["S3cr3t-P@ss", "S3cr3t:Pass", "S3cr3t/Pass", "S3c@r3t:P/ss", "S3cr3t?Pass"]
)
def test_unencoded_special_characters_get_the_url_encode_hint(password: str) -> None:
    message = rejected(f"postgres://ocore:{password}@db:5432/ocore")
    assert "URL-encode" in message and "%40" in message
    assert password not in message


@pytest.mark.parametrize(
    "raw",
    [
        f"postgres://ocore:{PASSWORD}@db:5432/ocore",
        f"postgres://ocore:{ENCODED}@db:99999/ocore",
        f"postgres://ocore:{ENCODED}@db:5432",
        f"postgres://ocore:{ENCODED}@/ocore",
        f"postgres://ocore:{ENCODED}@db/ocore?sslmode=bogus",
        f"mysql://ocore:{ENCODED}@db/ocore",
        f"postgres://ocore:{ENCODED}@[db/ocore",
    ],
)
def test_the_password_is_never_in_a_message(raw: str) -> None:
    message = rejected(raw)
    for fragment in (PASSWORD, ENCODED, "S3cr3t"):
        assert fragment not in message


def test_repr_str_and_redacted_hide_the_password() -> None:
    url = parse_database_url(GOOD)
    for shown in (repr(url), str(url), url.redacted, url.where, f"{url}", repr([url])):
        assert "S3cr3t" not in shown
    assert url.redacted == "postgres://ocore:***@db.internal:6543/ocore_prod?sslmode=verify-full"
    assert repr(url) == f"DatabaseURL({url.redacted})"
    assert url.where == "db.internal:6543/ocore_prod"


def test_redacted_without_a_password_is_the_url() -> None:
    raw = "postgresql://ocore@db/ocore"
    assert parse_database_url(raw).redacted == raw


def test_redacted_keeps_an_encoded_user_name() -> None:
    url = parse_database_url(f"postgres://us%40er:{ENCODED}@db/ocore")
    assert url.redacted == "postgres://us%40er:***@db/ocore"


def test_empty_password_is_still_masked() -> None:
    url = parse_database_url("postgres://ocore:@db/ocore")
    assert url.password == "" and url.redacted == "postgres://ocore:***@db/ocore"


def test_secret_parts_cover_every_form_of_the_password() -> None:
    parts = parse_database_url(GOOD).secret_parts()
    assert GOOD in parts and PASSWORD in parts and ENCODED in parts


def test_a_password_in_the_query_string_is_secret_too() -> None:
    raw = f"postgres://ocore@db/ocore?sslmode=require&password={ENCODED}"
    url = parse_database_url(raw)
    for shown in (repr(url), url.redacted):
        assert ENCODED not in shown and PASSWORD not in shown
    assert PASSWORD in url.secret_parts()


def test_urls_compare_by_value_and_are_immutable() -> None:
    assert parse_database_url(GOOD) == parse_database_url(GOOD)
    url: DatabaseURL = parse_database_url(GOOD)
    with pytest.raises(AttributeError):
        url.host = "elsewhere"  # type: ignore[misc]


SSL_PASSWORD = "Key-Pass+phrase/7%"
SSL_ENCODED = "Key-Pass%2Bphrase%2F7%25"


@pytest.mark.parametrize("key", ["sslpassword", "password", "SSLPassword", "api_key", "token"])
def test_every_secret_named_query_parameter_is_masked(key: str) -> None:
    raw = f"postgres://ocore@db/ocore?sslmode=verify-full&{key}={SSL_ENCODED}&sslkey=/k.pem"
    url = parse_database_url(raw)
    for shown in (repr(url), str(url), url.redacted, f"{url!r}", repr([url])):
        assert SSL_ENCODED not in shown and SSL_PASSWORD not in shown and "phrase" not in shown
    assert url.redacted == f"postgres://ocore@db/ocore?sslmode=verify-full&{key}=***&sslkey=/k.pem"


def test_secret_query_values_join_the_secret_set_in_every_form() -> None:
    raw = f"postgres://ocore:{ENCODED}@db/ocore?sslpassword={SSL_ENCODED}&application_name=x"
    parts = parse_database_url(raw).secret_parts()
    assert {raw, PASSWORD, ENCODED, SSL_ENCODED, SSL_PASSWORD} <= set(parts)
    assert "x" not in parts
    assert len(parts) == len(set(parts))


def test_other_query_parameters_are_kept_as_written() -> None:
    raw = "postgres://db/ocore?application_name=a%20b&options=-c%20x%3Dy&passfile=/p"
    assert parse_database_url(raw).redacted == raw
    assert parse_database_url(raw).secret_parts() == [raw]
