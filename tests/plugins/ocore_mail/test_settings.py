"""Every SMTP_* setting: the defaults, and a clear problem (naming the variable) for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import ocore_mail
from ocore_flask.config import Config, resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET

PASSWORD = "Sup3r-S3cret-Pa55word!"


def resolved(mode: str = "development", **variables: str) -> Config:
    environ = {"ENVIRONMENT": mode, "JWT_SECRET": JWT_SECRET, **variables}
    if mode != "development":
        environ["APP_URL"] = "https://ocore.example.com"
    found = load_plugins(environ, [ocore_mail.plugin])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def problems(config: Config, level: str = "error") -> dict[str, str]:
    return {p.variable: p.message for p in config.report.problems if p.level == level}


def test_defaults_are_the_development_sink():
    config = resolved()
    assert config.report.ok, config.report.render_text()
    assert config["SMTP_HOST"] == "localhost" and config["SMTP_PORT"] == 1025
    assert config["SMTP_FROM"] == "noreply@ocore.local"
    assert config["SMTP_TLS"] == "auto" and config["SMTP_TLS_VERIFY"] is True
    assert config.get("SMTP_USERNAME") is None and config.get("SMTP_PASSWORD") is None
    assert config.get("SMTP_CA_FILE") is None and config["SMTP_HEALTH_PROBE"] is False
    assert config["SMTP_TIMEOUT"].seconds == 10


def test_valid_values_are_parsed(smtp_ca):
    config = resolved(
        SMTP_HOST="SMTP.Example.com",
        SMTP_PORT="587",
        SMTP_FROM="oCore <noreply@Example.COM>",
        SMTP_USERNAME="apikey",
        SMTP_PASSWORD=PASSWORD,
        SMTP_TLS="starttls",
        SMTP_TLS_VERIFY="off",
        SMTP_CA_FILE=str(smtp_ca.ca_file),
        SMTP_TIMEOUT="2500ms",
        SMTP_HEALTH_PROBE="yes",
    )
    assert config.report.ok, config.report.render_text()
    assert config["SMTP_HOST"] == "smtp.example.com" and config["SMTP_PORT"] == 587
    assert config["SMTP_FROM"] == "oCore <noreply@example.com>"
    assert config.plain("SMTP_PASSWORD") == PASSWORD
    assert config["SMTP_TLS_VERIFY"] is False and config["SMTP_HEALTH_PROBE"] is True
    assert config["SMTP_CA_FILE"] == str(smtp_ca.ca_file)
    assert config["SMTP_TIMEOUT"].seconds == 2.5


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SMTP_HOST", "smtp://mail.example.com", "host name or IP address"),
        ("SMTP_HOST", "mail.example.com:587", "without scheme, port or path"),
        ("SMTP_PORT", "smtp", "whole number from 1 to 65535"),
        ("SMTP_PORT", "0", "from 1 to 65535"),
        ("SMTP_PORT", "70000", "from 1 to 65535"),
        ("SMTP_FROM", "noreply", "one e-mail address with a domain"),
        ("SMTP_FROM", "noreply@localhost", "one e-mail address with a domain"),
        ("SMTP_FROM", "a@example.com, b@example.com", "one e-mail address"),
        ("SMTP_FROM", "a@example.com\r\nBcc: x@example.com", "one e-mail address"),
        ("SMTP_USERNAME", "usér", "must be ASCII"),
        ("SMTP_TLS", "startls", "did you mean 'starttls'"),
        ("SMTP_TLS", "ssl", "one of auto, starttls, tls, none"),
        ("SMTP_TLS_VERIFY", "maybe", "true or false"),
        ("SMTP_TIMEOUT", "10", "Go duration"),
        ("SMTP_TIMEOUT", "0s", "greater than zero"),
        ("SMTP_TIMEOUT", "-1s", "greater than zero"),
        ("SMTP_HEALTH_PROBE", "sometimes", "true or false"),
    ],
)
def test_bad_values_are_errors_naming_the_variable(variable: str, value: str, expected: str):
    found = problems(resolved(**{variable: value}))
    assert variable in found, found
    assert expected in found[variable]


def test_a_non_ascii_password_is_rejected_without_showing_it():
    secret = "pässwörd-Hidden-9"
    config = resolved(SMTP_USERNAME="apikey", SMTP_PASSWORD=secret)
    assert "must be ASCII" in problems(config)["SMTP_PASSWORD"]
    assert secret not in config.report.render_text()


def test_ca_file_must_exist(tmp_path: Path):
    missing = tmp_path / "nope.pem"
    message = problems(resolved(SMTP_CA_FILE=str(missing)))["SMTP_CA_FILE"]
    assert "no such file" in message and "(got '/" in message


@pytest.mark.parametrize("content", [b"", b"not a certificate\n", b"-----BEGIN CERTIFICATE-----\n"])
def test_ca_file_must_hold_pem_certificates(tmp_path: Path, content: bytes):
    path = tmp_path / "ca.pem"
    path.write_bytes(content)
    assert (
        "PEM file of CA certificates" in problems(resolved(SMTP_CA_FILE=str(path)))["SMTP_CA_FILE"]
    )


def test_ca_file_that_is_a_directory_is_rejected(tmp_path: Path):
    assert "no such file" in problems(resolved(SMTP_CA_FILE=str(tmp_path)))["SMTP_CA_FILE"]


def test_ca_file_with_tls_none_is_a_warning(smtp_ca):
    config = resolved(SMTP_CA_FILE=str(smtp_ca.ca_file), SMTP_TLS="none")
    assert config.report.ok
    assert "ignored" in problems(config, "warning")["SMTP_CA_FILE"]


@pytest.mark.parametrize(
    ("variables", "target"),
    [
        ({"SMTP_USERNAME": "apikey"}, "SMTP_PASSWORD"),
        ({"SMTP_PASSWORD": PASSWORD}, "SMTP_USERNAME"),
    ],
)
def test_credentials_come_in_pairs(variables: dict[str, str], target: str):
    assert "is required when" in problems(resolved(**variables))[target]


def test_strict_mode_refuses_credentials_without_tls():
    config = resolved(
        "production",
        SMTP_HOST="smtp.example.com",
        SMTP_FROM="noreply@example.com",
        SMTP_USERNAME="apikey",
        SMTP_PASSWORD=PASSWORD,
        SMTP_TLS="none",
    )
    assert "credentials would cross the network in clear" in problems(config)["SMTP_TLS"]
    assert PASSWORD not in config.report.render_text()


def test_strict_mode_warns_on_development_defaults_and_unverified_tls():
    config = resolved("production", SMTP_TLS_VERIFY="false")
    assert config.report.ok, config.report.render_text()
    warnings = problems(config, "warning")
    assert {"SMTP_HOST", "SMTP_FROM", "SMTP_TLS_VERIFY"} <= set(warnings)
