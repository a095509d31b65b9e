"""``ocore mail test ADDRESS``: send a test message and show each SMTP step as it happens."""

from __future__ import annotations

import html
import sys
from datetime import UTC, datetime

import click

from ocore_flask.cli.app_loading import with_app
from ocore_flask.redact import Scrubber
from ocore_flask.state import get_state
from ocore_mail.sender import InvalidAddress, MailError, validate_address
from ocore_mail.service import mail_service

SUBJECT = "oCore mail test"


def _address(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Reject a malformed ADDRESS before the app is built (exit 2, like any usage error)."""
    try:
        return validate_address(value)
    except InvalidAddress as exc:
        raise click.BadParameter(str(exc)) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


@click.group("mail")
def mail_group() -> None:
    """Outgoing mail: check the SMTP settings end to end."""


@mail_group.command("test")
@click.argument("address", callback=_address)
@with_app
def test_command(address: str) -> None:
    """Send a test message to ADDRESS, printing each SMTP step (never the password)."""
    service = mail_service()
    scrubber = Scrubber(get_state().config.secret_values())
    settings = service.settings
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def say(text: str, *, err: bool = False) -> None:
        click.echo(scrubber.text(text), err=err)

    def trace(step: str, detail: str) -> None:
        say(f"  {step:<8} {_one_line(detail)}")

    say(
        f"Sending a test message to {address} through {settings.host}:{settings.port} "
        f"(SMTP_TLS={settings.tls}, from {settings.from_addr})"
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
        say(f"error: {_one_line(str(exc))}", err=True)
        sys.exit(1)
    say(f"OK: {result.message_id} accepted for {', '.join(result.accepted)}")
