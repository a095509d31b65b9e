"""The bookkeeping of one SMTP session's steps: trace, deadline and error mapping."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING, NoReturn

from .errors import (
    AuthFailed,
    ConnectionDropped,
    MailError,
    MailTimeout,
    SMTPConnectError,
    TLSFailed,
)
from .message import OutgoingMessage, build_message
from .results import Trace
from .smtp import reply_text

if TYPE_CHECKING:
    from .sender import MailSender


class StepRunner:
    """What every step of a Session shares: the trace, one deadline, errors mapped to MailErrors."""

    def __init__(
        self,
        sender: MailSender,
        message: OutgoingMessage | EmailMessage | None,
        trace: Trace | None,
    ) -> None:
        self.options = sender.options
        self.sender = sender
        self.trace = trace
        self.steps: list[tuple[str, str]] = []
        self.started = time.monotonic()
        self.deadline = self.started + self.options.timeout
        self.client: smtplib.SMTP | None = None
        self.broken = False  # the transport failed: don't try a polite QUIT
        self.context: ssl.SSLContext | None = None
        self.message = self._prepare(message) if message is not None else None

    def _prepare(self, message: OutgoingMessage | EmailMessage) -> EmailMessage:
        if isinstance(message, OutgoingMessage):
            return build_message(
                to=message.to,
                subject=message.subject,
                text=message.text,
                html=message.html,
                from_addr=self.options.from_addr,
                reply_to=message.reply_to,
            )
        if isinstance(message, EmailMessage):
            return message
        raise TypeError(f"cannot send a {type(message).__name__}")

    def _record(self, step: str, detail: str) -> None:
        self.steps.append((step, detail))
        if self.trace is not None:
            self.trace(step, detail)

    def _scrub(self, text: str) -> str:
        password = self.options.password
        return text.replace(password, "***") if password else text

    def _fail(
        self, cls: type[MailError], step: str, detail: str, code: int | None = None
    ) -> NoReturn:
        raise cls(
            self._scrub(detail),
            step=step,
            host=self.options.host,
            port=self.options.port,
            code=code,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return self.sender.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._fail(TLSFailed, "tls", f"cannot load CA file {self.options.ca_file}: {reason}")

    def _remaining(self, step: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._fail(MailTimeout, step, f"no time left of the {self.options.timeout:g} s timeout")
        if self.client is not None:
            self.client.timeout = remaining
            if self.client.sock is not None:
                self.client.sock.settimeout(remaining)
        return remaining

    @contextmanager
    def _step(self, step: str) -> Iterator[None]:
        """Give a step what is left of the timeout and turn low-level errors into MailErrors."""
        self._remaining(step)
        try:
            yield
        except MailError:
            raise
        except smtplib.SMTPResponseException as exc:
            self._response_error(step, exc)
        except Exception as exc:
            self.broken = True
            self._transport_error(step, exc)

    def _response_error(self, step: str, exc: smtplib.SMTPResponseException) -> NoReturn:
        reply = f"{exc.smtp_code} {reply_text(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            self._fail(AuthFailed, step, f"credentials rejected: {reply}", exc.smtp_code)
        cls = SMTPConnectError if step == "connect" else MailError
        self._fail(cls, step, f"unexpected reply {reply}", exc.smtp_code)

    def _transport_error(self, step: str, exc: Exception) -> NoReturn:
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            # smtplib reports a read timeout as a disconnect; the cause tells them apart.
            if isinstance(exc.__context__, TimeoutError):
                exc = exc.__context__
            else:
                self._fail(ConnectionDropped, step, f"the server closed the connection ({exc})")
        if isinstance(exc, smtplib.SMTPException):
            self._fail(MailError, step, str(exc))
        if isinstance(exc, TimeoutError):
            self._fail(
                MailTimeout, step, f"no answer within the {self.options.timeout:g} s timeout"
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            self._fail(TLSFailed, "tls", f"certificate not trusted: {exc.verify_message}")
        if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            if step in ("connect", "tls"):
                self._fail(TLSFailed, "tls", f"handshake failed, connection closed ({exc})")
            self._fail(ConnectionDropped, step, f"the server closed the connection ({exc})")
        if isinstance(exc, ssl.SSLError):
            hint = ""
            if exc.reason == "WRONG_VERSION_NUMBER":
                hint = " (the server may not speak implicit TLS on this port; try starttls)"
            self._fail(TLSFailed, "tls", f"handshake failed: {exc.reason or exc}{hint}")
        if isinstance(exc, socket.gaierror):
            self._fail(SMTPConnectError, step, f"cannot resolve host: {exc.strerror or exc}")
        if isinstance(exc, ConnectionRefusedError):
            self._fail(SMTPConnectError, step, "connection refused (nothing listens on that port)")
        if isinstance(exc, OSError):
            cls = SMTPConnectError if step == "connect" else ConnectionDropped
            reason = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, ConnectionError):
                reason = f"connection lost: {reason}"
            self._fail(cls, step, reason)
        raise exc
