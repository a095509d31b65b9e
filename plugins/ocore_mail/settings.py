"""The mail plugin's settings: the seed's development defaults (a local Mailpit-style sink on
localhost:1025) and TLS that is never silently skipped when credentials are involved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ocore_flask.config import (
    Check,
    Context,
    CrossRule,
    Duration,
    Kind,
    Secret,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)
from ocore_mail.sender.addresses import validate_address


def _address(raw: str) -> str:
    try:
        return validate_address(raw)
    except ValueError:
        raise ValueError(
            "must be one e-mail address with a domain, e.g. noreply@example.com or "
            '"oCore <noreply@example.com>"'
        ) from None


def _ca_file(raw: str) -> str:
    import ssl  # only when SMTP_CA_FILE is set: `config check` otherwise never loads ssl

    path = Path(raw)
    if not path.is_file():
        raise ValueError("must be the path of a PEM file of CA certificates; no such file")
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError):
        raise ValueError(
            "must be a readable PEM file of CA certificates (-----BEGIN CERTIFICATE-----)"
        ) from None
    return str(path)


def _ascii(value: str, _: Context) -> str | None:
    # smtplib encodes AUTH as ASCII: catch it here, not with the secret in a send error.
    return None if value.isascii() else "must be ASCII: smtplib sends AUTH credentials as ASCII"


def _not_local_domain(value: str, _: Context) -> str | None:
    if value.rstrip(">").lower().endswith("@ocore.local"):
        return "is still the development address; set your domain's noreply address"
    return None


def _verify_on(value: bool, _: Context) -> str | None:
    return None if value else "certificate checks are off: anyone on the path can read your mail"


@section
class MailSettings:
    """The mail plugin's settings: the SMTP server, its credentials, TLS and time limits."""

    host: str = setting(
        "SMTP_HOST",
        kinds.hostname(),
        "SMTP server host.",
        default="localhost",
        example="smtp.example.com",
        checks=(
            Check(
                "warn on localhost",
                lambda v, _: (
                    "is localhost in a strict mode; set your SMTP provider's host"
                    if rules.is_loopback_host(v)
                    else None
                ),
                level="warning",
                applies="strict",
            ),
        ),
    )

    port: int = setting(
        "SMTP_PORT", kinds.port(), "SMTP server port.", default="1025", example="587"
    )

    from_addr: str = setting(
        "SMTP_FROM",
        Kind("address", "e-mail address, optionally Name <addr>", _address),
        "Sender address of outgoing mail.",
        default="noreply@ocore.local",
        example="oCore <noreply@example.com>",
        checks=(
            Check(
                "warn on the development address",
                _not_local_domain,
                level="warning",
                applies="strict",
            ),
        ),
    )

    username: str | None = setting(
        "SMTP_USERNAME",
        kinds.text(),
        "SMTP AUTH user name (unset: no AUTH).",
        example="apikey",
        checks=(Check("ASCII only", _ascii),),
    )

    password: Secret[str] | None = setting(
        "SMTP_PASSWORD",
        kinds.text(),
        "SMTP AUTH password; required with a user name.",
        secret=True,
        example="<smtp password>",
        checks=(Check("ASCII only", _ascii),),
    )

    tls: str = setting(
        "SMTP_TLS",
        kinds.choice("auto", "starttls", "tls", "none"),
        "auto: implicit TLS on 465, STARTTLS on 587, STARTTLS when offered elsewhere; "
        "starttls: required; tls: implicit; none: plain text.",
        default="auto",
        example="starttls",
    )

    tls_verify: bool = setting(
        "SMTP_TLS_VERIFY",
        kinds.boolean(),
        "Verify the server's certificate and host name.",
        default="true",
        example="true",
        checks=(Check("warn when off", _verify_on, level="warning", applies="strict"),),
    )

    ca_file: str | None = setting(
        "SMTP_CA_FILE",
        Kind("file", "path of a PEM file of CA certificates", _ca_file),
        "Extra CA certificates (PEM) trusted for the SMTP server, e.g. a private CA; "
        "added to the system trust store.",
        example="/etc/ssl/private-ca.pem",
    )

    timeout: Duration = setting(
        "SMTP_TIMEOUT",
        kinds.duration(),
        "Time limit of one whole SMTP send or health probe, connect to QUIT.",
        default="10s",
        example="10s",
    )

    health_probe: bool = setting(
        "SMTP_HEALTH_PROBE",
        kinds.boolean(),
        "Health also connects to the server (EHLO, TLS, NOOP; no login); a failure is degraded.",
        default="false",
        example="true",
    )


SETTINGS = settings_of(MailSettings)


def _needs(other: str, present: str) -> Callable[[Context], str | None]:
    def test(ctx: Context) -> str | None:
        if ctx.values.get(other) is None:
            return f"is required when {present} is set"
        return None

    return test


def _no_plaintext_credentials(ctx: Context) -> str | None:
    if ctx.values["SMTP_TLS"] == "none":
        return (
            "is none while SMTP_USERNAME is set: credentials would cross the network in clear; "
            "use auto, starttls or tls"
        )
    return None


def _ca_file_used(ctx: Context) -> str | None:
    if ctx.values["SMTP_TLS"] == "none":
        return "is ignored: SMTP_TLS is none, so no certificate is ever checked"
    return None


CROSS_RULES = (
    CrossRule(
        "SMTP_PASSWORD",
        ("SMTP_USERNAME",),
        "required with SMTP_USERNAME",
        _needs("SMTP_PASSWORD", "SMTP_USERNAME"),
    ),
    CrossRule(
        "SMTP_USERNAME",
        ("SMTP_PASSWORD",),
        "required with SMTP_PASSWORD",
        _needs("SMTP_USERNAME", "SMTP_PASSWORD"),
    ),
    CrossRule(
        "SMTP_TLS",
        ("SMTP_USERNAME",),
        "not none with credentials",
        _no_plaintext_credentials,
        applies="strict",
    ),
    CrossRule(
        "SMTP_CA_FILE",
        ("SMTP_CA_FILE", "SMTP_TLS"),
        "unused when SMTP_TLS is none",
        _ca_file_used,
        level="warning",
    ),
)
