"""``ocore mail test ADDRESS``: send a test message and show each SMTP step as it happens."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import click

import ocore_mail
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import CommandError, clean_line, emit, json_option, one_line, scrub
from ocore_mail.sender import InvalidAddress, MailError, validate_address

SUBJECT = "oCore mail test"


def _address(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Reject a malformed ADDRESS before the app is built (exit 2, like any usage error)."""
    try:
        return validate_address(value)
    except InvalidAddress as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("mail")
def mail_group() -> None:
    """Outgoing mail: check the SMTP settings end to end."""


@mail_group.command("test")
@click.argument("address", callback=_address)
@json_option
@with_app(needs=("mail",))
def test_command(address: str, as_json: bool) -> None:
    """Send a test message to ADDRESS, printing each SMTP step (never the password)."""
    service = ocore_mail.mailer()
    settings = service.options
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    report: dict[str, Any] = {
        "to": address,
        "host": settings.host,
        "port": settings.port,
        "tls": settings.tls,
        "from": settings.from_addr,
        "steps": [],
    }

    def trace(step: str, detail: str) -> None:
        report["steps"].append({"step": step, "detail": clean_line(detail)})
        if not as_json:
            click.echo(scrub(f"  {step:<8} {one_line(detail)}"))

    if not as_json:
        click.echo(
            scrub(
                f"Sending a test message to {address} through {settings.host}:{settings.port} "
                f"(SMTP_TLS={settings.tls}, from {settings.from_addr})"
            )
        )
    text = (
        f"This is a test message from oCore, sent {when} through "
        f"{settings.host}:{settings.port}.\n\nIf you can read it, outgoing mail works.\n"
    )
    where = html.escape(f"{settings.host}:{settings.port}")
    rich = (
        f"<p>This is a test message from <b>oCore</b>, sent {when} through {where}.</p>"
        "<p>If you can read it, outgoing mail works.</p>"
    )
    try:
        result = service.send(address, SUBJECT, text, rich, trace=trace)
    except MailError as exc:
        error = CommandError(str(exc))
        if as_json:
            emit(scrub({**report, "ok": False, "error": error.message}), as_json)
        raise error from None
    outcome = {
        "ok": True,
        "encryption": result.tls,
        "message_id": result.message_id,
        "accepted": list(result.accepted),
        "tls_version": result.tls_version,
        "certificate_verified": result.certificate_verified,
        "authenticated_as": result.authenticated_as,
        "elapsed_ms": round(result.elapsed * 1000, 1),
    }
    ok_line = f"OK: {result.message_id} accepted for {', '.join(result.accepted)}"
    emit(scrub({**report, **outcome}), as_json, scrub(ok_line))


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [mail_group]
