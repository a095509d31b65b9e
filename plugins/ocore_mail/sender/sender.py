"""MailSender: sends or probes through one SMTP Session per call."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

from .message import OutgoingMessage
from .options import SenderOptions
from .results import ProbeResult, SendResult, Trace
from .session import Session


class MailSender:
    """Sends messages with the configured server, TLS mode and credentials (smtplib only)."""

    def __init__(self, options: SenderOptions) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"MailSender({self.options!r})"

    def ssl_context(self) -> ssl.SSLContext:
        """The client TLS context: system trust store plus ``ca_file``, or no checks."""
        context = ssl.create_default_context()
        if self.options.ca_file:
            context.load_verify_locations(cafile=str(self.options.ca_file))
        if not self.options.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(
        self, message: OutgoingMessage | EmailMessage, *, trace: Trace | None = None
    ) -> SendResult:
        """Send one message; returns what happened or raises a ``MailError`` subclass."""
        return Session(self, message, trace).run()

    def probe(self, *, trace: Trace | None = None) -> ProbeResult:
        """Check the server is usable without sending: connect, EHLO, TLS as configured, NOOP.

        Credentials are not tried (a health probe must not lock an account out); failures
        raise the same ``MailError`` subclasses as ``send``, within ``settings.timeout``.
        """
        return Session(self, None, trace).probe()
