"""The app's mail service: one ``send`` for every plugin, and what health needs to know.

``init_app`` builds one ``MailService`` per app from the plugin's settings section; other
plugins send with ``ocore_mail.mailer().send(...)`` or the shortcut ``send_mail(...)`` (both
use ``current_app``); failures raise the sender's typed ``MailError`` subclasses.

The service remembers the outcome and time of the last send (under a lock: requests send
from many threads) for the ``mail`` health section. Outcomes:

``sent``     the server accepted the message.
``refused``  the server works but refused this message (sender, recipient or content).
``failed``   the server could not be used: connect, TLS, auth, timeout, dropped connection.

A message rejected before any connection (``InvalidMessage``: a bad address, a header with a
line break) is the caller's bug, not the server's state, and is not recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Literal

from flask import Flask

from ocore_flask.health.contributor import isoformat_utc
from ocore_flask.state import get_state
from ocore_mail.sender import (
    InvalidMessage,
    MailError,
    MailSender,
    MessageRefused,
    OutgoingMessage,
    ProbeResult,
    RecipientRefused,
    SenderOptions,
    SenderRefused,
    SendResult,
    Trace,
    effective_tls_mode,
)
from ocore_mail.settings import MailSettings

__all__ = ["LastSend", "MailService", "init_app", "send_mail", "sender_options"]

Outcome = Literal["sent", "refused", "failed"]
_REFUSALS = (SenderRefused, RecipientRefused, MessageRefused)


def sender_options(section: MailSettings, *, strict: bool) -> SenderOptions:
    """The sender's options from the plugin's settings section (``strict`` from the mode)."""
    return SenderOptions(
        host=section.host,
        port=section.port,
        from_addr=section.from_addr,
        username=section.username,
        password=section.password.reveal() if section.password else None,
        tls=section.tls,
        verify=section.tls_verify,
        timeout=section.timeout.seconds,
        strict=strict,
        ca_file=section.ca_file,
    )


def init_app(app: Flask, section: MailSettings) -> MailService:
    """The app's ``MailService`` (no connection yet): what ``ocore_mail.mailer()`` hands out."""
    strict = get_state(app).config.mode.strict
    return MailService(sender_options(section, strict=strict), probe=section.health_probe)


@dataclass(frozen=True)
class LastSend:
    """The outcome of the most recent send, for health (no addresses, no message content)."""

    outcome: Outcome
    at: datetime
    error: str | None = None  # the MailError subclass, e.g. "AuthFailed"
    step: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the health payload."""
        data: dict[str, Any] = {"outcome": self.outcome, "at": isoformat_utc(self.at)}
        if self.error:
            data.update(error=self.error, step=self.step, message=self.message)
        return data


def _describe_failure(exc: MailError) -> str:
    # A refused recipient's message lists addresses: personal data stays out of health.
    if isinstance(exc, RecipientRefused):
        return f"{len(exc.refused)} recipient(s) refused by the server (code {exc.code})"
    return str(exc)


class MailService:
    """Sends through one configured ``MailSender`` and records each send's outcome."""

    def __init__(self, options: SenderOptions, *, probe: bool = False) -> None:
        self.options = options
        self.sender = MailSender(options)
        self.probe_enabled = probe
        self._lock = threading.Lock()
        self._last: LastSend | None = None
        self._counts: dict[Outcome, int] = {"sent": 0, "refused": 0, "failed": 0}

    def __repr__(self) -> str:
        return f"MailService({self.options!r}, probe={self.probe_enabled})"

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        *,
        reply_to: str | None = None,
        trace: Trace | None = None,
    ) -> SendResult:
        """Send a text (and optional HTML) message from ``SMTP_FROM``; raises a ``MailError``."""
        message = OutgoingMessage(to=to, subject=subject, text=text, html=html, reply_to=reply_to)
        return self.send_message(message, trace=trace)

    def send_message(
        self, message: OutgoingMessage | EmailMessage, *, trace: Trace | None = None
    ) -> SendResult:
        """Send a prepared message (e.g. with attachments) and record the outcome."""
        try:
            result = self.sender.send(message, trace=trace)
        except InvalidMessage:
            raise
        except MailError as exc:
            outcome: Outcome = "refused" if isinstance(exc, _REFUSALS) else "failed"
            self._record(
                LastSend(outcome, _now(), type(exc).__name__, exc.step, _describe_failure(exc))
            )
            raise
        self._record(LastSend("sent", _now()))
        return result

    def probe(self, timeout: float | None = None, *, trace: Trace | None = None) -> ProbeResult:
        """Connect, EHLO, TLS as configured and NOOP (no login), within ``timeout`` seconds."""
        settings = self.options
        if timeout is not None and timeout < settings.timeout:
            settings = replace(settings, timeout=timeout)
        return MailSender(settings).probe(trace=trace)

    @property
    def last_send(self) -> LastSend | None:
        """The most recent send's outcome, or None before the first."""
        with self._lock:
            return self._last

    @property
    def counts(self) -> dict[str, int]:
        """Sends by outcome since the app started."""
        with self._lock:
            return dict(self._counts)

    def describe(self) -> dict[str, Any]:
        """Where and how mail is sent (no credentials), for health and the CLI."""
        settings = self.options
        return {
            "host": settings.host,
            "port": settings.port,
            "tls": settings.tls,
            "tls_effective": effective_tls_mode(settings.tls, settings.port),
            "verify": settings.verify,
            "auth": settings.has_credentials,
        }

    def _record(self, last: LastSend) -> None:
        with self._lock:
            self._last = last
            self._counts[last.outcome] += 1


def _now() -> datetime:
    return datetime.now(UTC)


def send_mail(
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    reply_to: str | None = None,
) -> SendResult:
    """Send a message with the current app's mail service; raises a ``MailError`` on failure."""
    from ocore_mail import mailer

    return mailer().send(to, subject, text, html, reply_to=reply_to)
