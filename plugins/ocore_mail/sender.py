"""Outgoing mail over SMTP with the standard library (no Flask).

TLS modes (``MailSettings.tls``, from ``SMTP_TLS``)
    ``tls``       implicit TLS from the first byte (``smtplib.SMTP_SSL``), usually port 465.
    ``starttls``  plain connect, then STARTTLS; a server that does not offer it is an error.
    ``none``      never encrypt.
    ``auto``      port 465: implicit TLS; port 587: STARTTLS required; any other port:
                  STARTTLS when the server offers it, otherwise plain (the development sink
                  on 1025 offers none). See ``effective_tls_mode``.

Certificates are checked with ``ssl.create_default_context()`` (system trust store, hostname
checking); ``MailSettings.ca_file`` adds a PEM bundle of extra trusted CAs (a private CA, or
the throwaway CA of the tests) on top of the system store. ``verify=False`` switches both
checks off (the connection is still encrypted, but not authenticated).

Strict mode (staging, production) never sends credentials over an unencrypted connection:
``InsecureAuthRefused`` is raised before AUTH, so the password never leaves the process.

``MailSettings.timeout`` is one budget for the whole send: every step gets what is left of it,
so a server that stalls anywhere makes ``send`` fail with ``MailTimeout`` after about
``timeout`` seconds.

``MailSender.probe`` runs the same conversation up to a NOOP (no AUTH, no mail) for health.

Every failure is a ``MailError`` subclass whose message names the step and ``host:port``;
the password is never part of a message or a ``repr``.
"""

from __future__ import annotations

import copy
import io
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import errors as email_errors
from email.generator import BytesGenerator
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Literal, NoReturn, get_args

__all__ = [
    "TLS_MODES",
    "AuthFailed",
    "ConnectFailed",
    "ConnectionDropped",
    "InsecureAuthRefused",
    "InvalidAddress",
    "InvalidMessage",
    "MailError",
    "MailSender",
    "MailSettings",
    "MailTimeout",
    "MessageRefused",
    "OutgoingMessage",
    "ProbeResult",
    "RecipientRefused",
    "SendResult",
    "SenderRefused",
    "TLSFailed",
    "TLSMode",
    "Trace",
    "build_message",
    "effective_tls_mode",
    "validate_address",
]

TLSMode = Literal["auto", "starttls", "tls", "none"]
TLS_MODES: tuple[str, ...] = get_args(TLSMode)
# What a TLS mode means for one connection: see effective_tls_mode.
EffectiveTLS = Literal["implicit", "starttls", "opportunistic", "none"]
Trace = Callable[[str, str], None]

IMPLICIT_TLS_PORT = 465
SUBMISSION_PORT = 587


# --------------------------------------------------------------------------- errors


class MailError(Exception):
    """Base of every mail failure; the message names the step and server to act on."""

    def __init__(
        self,
        detail: str,
        *,
        step: str | None = None,
        host: str | None = None,
        port: int | None = None,
        code: int | None = None,
    ) -> None:
        self.detail = detail
        self.step = step
        self.host = host
        self.port = port
        self.code = code
        super().__init__(self._format())

    def _format(self) -> str:
        if self.step and self.host is not None:
            return f"SMTP {self.step} failed on {self.host}:{self.port}: {self.detail}"
        if self.step:
            return f"SMTP {self.step} failed: {self.detail}"
        return self.detail


class ConnectFailed(MailError):
    """The server could not be reached: DNS failure, refused or unreachable."""


class TLSFailed(MailError):
    """TLS could not be established: untrusted certificate, handshake, STARTTLS missing."""


class AuthFailed(MailError):
    """The server rejected the credentials or offers no usable AUTH mechanism."""


class InsecureAuthRefused(MailError):
    """Strict mode refused to send credentials over an unencrypted connection."""


class SenderRefused(MailError):
    """The server rejected the envelope sender (MAIL FROM)."""


class RecipientRefused(MailError):
    """The server rejected one or more recipients; nothing was sent."""

    def __init__(
        self,
        detail: str,
        *,
        refused: dict[str, tuple[int, str]],
        accepted: Sequence[str] = (),
        step: str | None = None,
        host: str | None = None,
        port: int | None = None,
        code: int | None = None,
    ) -> None:
        self.refused = dict(refused)
        self.accepted = tuple(accepted)
        super().__init__(detail, step=step, host=host, port=port, code=code)


class MessageRefused(MailError):
    """The server rejected the message content at DATA (size, policy, spam...)."""


class ConnectionDropped(MailError):
    """The server closed or reset the connection in the middle of the session."""


class MailTimeout(MailError):
    """The send did not complete within ``MailSettings.timeout``."""


class InvalidMessage(MailError, ValueError):
    """A header value is unusable (line breaks, control characters, missing field)."""


class InvalidAddress(InvalidMessage):
    """An e-mail address is malformed or could smuggle extra headers."""


# --------------------------------------------------------------------------- addresses

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every C0 control but TAB, plus DEL
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HEADERS = HeaderRegistry()
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ANGLE = re.compile(r"<([^<>]*)>")


def _reject_controls(text: str, what: str) -> None:
    if "\r" in text or "\n" in text:
        raise InvalidAddress(f"{what} must not contain line breaks: {text!r}")
    if _CONTROL.search(text):
        raise InvalidAddress(f"{what} must not contain control characters: {text!r}")


def _check_domain(domain: str, text: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}") from None
    ascii_domain = ascii_domain.lower()
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise InvalidAddress(
            f"address {text!r} needs a fully qualified domain (like example.com), got {domain!r}"
        )
    if len(ascii_domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}")
    if labels[-1].isdigit():
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}")
    return ascii_domain


def _parse_address(text: str, what: str = "address") -> Address:
    if not isinstance(text, str):
        raise InvalidAddress(f"{what} must be a string, got {type(text).__name__}")
    _reject_controls(text, what)
    stripped = text.strip()
    if not stripped:
        raise InvalidAddress(f"{what} is empty")
    unquoted = _QUOTED.sub('""', stripped)
    if "," in unquoted or ";" in unquoted:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    bracketed = _ANGLE.search(unquoted)
    spec = bracketed.group(1) if bracketed else unquoted
    if "@" not in spec or spec.strip().endswith("@"):
        raise InvalidAddress(f"{what} {text!r} has no domain (expected user@example.com)")
    if spec.strip().startswith("@"):
        raise InvalidAddress(f"{what} {text!r} has no local part (the part before @)")
    try:
        header = _HEADERS("to", stripped)
        groups = header.groups
    except (email_errors.HeaderParseError, IndexError, ValueError):
        raise InvalidAddress(f"{what} {text!r} is not a valid e-mail address") from None
    if header.defects or len(groups) != 1 or groups[0].display_name is not None:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    (parsed,) = groups[0].addresses
    local, domain = parsed.username, parsed.domain
    if not local:
        raise InvalidAddress(f"{what} {text!r} has no local part (the part before @)")
    if not domain:
        raise InvalidAddress(f"{what} {text!r} has no domain (like user@example.com)")
    # The header parser is lenient (quoted strings, obsolete syntax); accept only a dot-atom.
    if not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        raise InvalidAddress(f"{what} {text!r} has an invalid local part {local!r}")
    ascii_domain = _check_domain(domain, text)
    if len(local) + 1 + len(ascii_domain) > 254:
        raise InvalidAddress(f"{what} {text!r} is too long")
    if unquoted.count("<") > 1 or unquoted.count(">") > 1:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    name = parsed.display_name or ""
    return Address(display_name=name, username=local, domain=ascii_domain)


def validate_address(text: str) -> str:
    """Validate one address (``user@example.com`` or ``Name <user@example.com>``) strictly.

    Returns the normalised form (domain lower-cased and IDNA-encoded, display name quoted as
    needed); raises ``InvalidAddress`` (a ``ValueError``) with a human message otherwise, so
    config validation of ``SMTP_FROM`` can use it directly.
    """
    return str(_parse_address(text))


def _addr_spec(text: str, what: str = "address") -> str:
    return _parse_address(text, what).addr_spec


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send, its From taken from ``MailSettings.from_addr``."""

    to: str | Sequence[str]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None


def _text_cte(body: str) -> str | None:
    # Non-ASCII bodies as quoted-printable keep the message 7-bit clean, so no server
    # needs 8BITMIME; ASCII bodies use the library's own choice.
    return None if body.isascii() else "quoted-printable"


def build_message(
    *,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    from_addr: str,
    reply_to: str | None = None,
) -> EmailMessage:
    """Build a text (optionally text + HTML) message with validated, injection-proof headers."""
    sender = _parse_address(from_addr, "From address")
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise InvalidAddress("a message needs at least one To address")
    to_addrs = [_parse_address(addr, "To address") for addr in recipients]
    if not isinstance(subject, str):
        raise InvalidMessage(f"Subject must be a string, got {type(subject).__name__}")
    if "\r" in subject or "\n" in subject or _CONTROL.search(subject):
        raise InvalidMessage(f"Subject must not contain line breaks or controls: {subject!r}")

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to_addrs
    if reply_to is not None:
        msg["Reply-To"] = _parse_address(reply_to, "Reply-To address")
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    msg.set_content(text, cte=_text_cte(text))
    if html is not None:
        msg.add_alternative(html, subtype="html", cte=_text_cte(html))
    return msg


def _envelope(msg: EmailMessage, fallback_sender: str) -> tuple[str, list[str]]:
    """Envelope sender and recipients of a ready message, as ``send_message`` would pick them."""
    senders = msg.get_all("Sender") or msg.get_all("From") or [fallback_sender]
    if len(senders) != 1:
        raise InvalidAddress("a message must have exactly one From (or Sender) header")
    sender = _addr_spec(str(senders[0]), "From address")
    fields: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        fields.extend(str(value) for value in msg.get_all(name, []))
    for value in fields:
        _reject_controls(value, "recipient header")
    recipients: list[str] = []
    for _name, addr in getaddresses(fields):
        spec = _addr_spec(addr, "recipient address")
        if spec not in recipients:
            recipients.append(spec)
    if not recipients:
        raise InvalidAddress("a message needs at least one To, Cc or Bcc address")
    return sender, recipients


def _serialise(msg: EmailMessage) -> bytes:
    """The wire form of a message: CRLF line ends, Bcc removed."""
    if "Bcc" in msg or "Resent-Bcc" in msg:
        msg = copy.copy(msg)
        del msg["Bcc"]
        del msg["Resent-Bcc"]
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False).flatten(msg, linesep="\r\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, repr=False)
class MailSettings:
    """How to reach the SMTP server; the plugin builds it from the ``SMTP_*`` settings.

    ``ca_file`` is an optional PEM file of extra trusted CA certificates, added to the system
    trust store (for a private CA, and for tests). ``strict`` is on in staging/production
    and, being the secure choice, is also the default.
    """

    host: str
    port: int
    from_addr: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TLSMode = "auto"
    verify: bool = True
    timeout: float = 10.0
    strict: bool = True
    ca_file: str | Path | None = None

    def __post_init__(self) -> None:
        """Reject impossible combinations early, with messages naming the field."""
        if not self.host or not isinstance(self.host, str):
            raise ValueError("SMTP host must be a non-empty string")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"SMTP port must be an integer, got {self.port!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"SMTP port must be between 1 and 65535, got {self.port}")
        if self.tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS mode must be one of {', '.join(TLS_MODES)}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP timeout must be > 0 seconds, got {self.timeout!r}")
        if self.username and not self.password:
            raise ValueError("an SMTP username needs a password")
        if self.password and not self.username:
            raise ValueError("an SMTP password needs a username")
        if not (self.username or "").isascii() or not (self.password or "").isascii():
            # smtplib encodes AUTH as ASCII; fail here rather than with the secret in an error.
            raise ValueError("the SMTP username and password must be ASCII (smtplib AUTH)")
        validate_address(self.from_addr)

    def __repr__(self) -> str:
        password = "'***'" if self.password else "None"
        return (
            f"MailSettings(host={self.host!r}, port={self.port!r}, "
            f"from_addr={self.from_addr!r}, username={self.username!r}, "
            f"password={password}, tls={self.tls!r}, verify={self.verify!r}, "
            f"timeout={self.timeout!r}, strict={self.strict!r}, ca_file={self.ca_file!r})"
        )

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        """True when AUTH will be attempted."""
        return bool(self.username and self.password)


def effective_tls_mode(tls: str, port: int) -> EffectiveTLS:
    """Resolve a TLS mode for one port: ``auto`` follows the port conventions (465, 587)."""
    if tls == "tls":
        return "implicit"
    if tls == "starttls":
        return "starttls"
    if tls == "none":
        return "none"
    if tls == "auto":
        if port == IMPLICIT_TLS_PORT:
            return "implicit"
        if port == SUBMISSION_PORT:
            return "starttls"
        return "opportunistic"
    raise ValueError(f"unknown SMTP TLS mode {tls!r}; expected one of {', '.join(TLS_MODES)}")


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class SendResult:
    """What happened during one successful send, step by step."""

    host: str
    port: int
    tls: Literal["implicit", "starttls", "none"]
    tls_version: str | None
    certificate_verified: bool
    authenticated_as: str | None
    sender: str
    accepted: tuple[str, ...]
    message_id: str
    size: int
    reply: str
    elapsed: float
    steps: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProbeResult:
    """What a probe (connect, EHLO, TLS as configured, NOOP; no AUTH, no mail) found."""

    host: str
    port: int
    tls: Literal["implicit", "starttls", "none"]
    tls_version: str | None
    certificate_verified: bool
    reply: str
    elapsed: float
    steps: tuple[tuple[str, str], ...]


class _SMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that remembers the host given to ``connect`` (for SNI and checks)."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: object = None
    ) -> tuple[int, bytes]:
        self._host = host  # smtplib only sets it in __init__; STARTTLS verifies against it
        return super().connect(host, port, source_address)


class _SMTP_SSL(smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` that remembers the host given to ``connect``."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: object = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


def _helo_name(sock: socket.socket) -> str:
    """EHLO name without DNS: the host name if fully qualified, else our address literal."""
    name = socket.gethostname()
    if "." in name and name.isascii() and " " not in name:
        return name
    ip = sock.getsockname()[0]
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


class MailSender:
    """Sends messages with the configured server, TLS mode and credentials (smtplib only)."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"MailSender({self.settings!r})"

    def ssl_context(self) -> ssl.SSLContext:
        """The client TLS context: system trust store plus ``ca_file``, or no checks."""
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=str(self.settings.ca_file))
        if not self.settings.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(
        self, message: OutgoingMessage | EmailMessage, *, trace: Trace | None = None
    ) -> SendResult:
        """Send one message; returns what happened or raises a ``MailError`` subclass."""
        return _Session(self, message, trace).run()

    def probe(self, *, trace: Trace | None = None) -> ProbeResult:
        """Check the server is usable without sending: connect, EHLO, TLS as configured, NOOP.

        Credentials are not tried (a health probe must not lock an account out); failures
        raise the same ``MailError`` subclasses as ``send``, within ``settings.timeout``.
        """
        return _Session(self, None, trace).probe()


class _Session:
    """One SMTP conversation: each step traced, timed against one deadline, errors mapped."""

    def __init__(
        self,
        sender: MailSender,
        message: OutgoingMessage | EmailMessage | None,
        trace: Trace | None,
    ) -> None:
        self.settings = sender.settings
        self.sender = sender
        self.trace = trace
        self.steps: list[tuple[str, str]] = []
        self.started = time.monotonic()
        self.deadline = self.started + self.settings.timeout
        self.client: smtplib.SMTP | None = None
        self.broken = False  # the transport failed: don't try a polite QUIT
        self.context: ssl.SSLContext | None = None
        self.message = self._prepare(message) if message is not None else None

    # -- helpers

    def _prepare(self, message: OutgoingMessage | EmailMessage) -> EmailMessage:
        if isinstance(message, OutgoingMessage):
            return build_message(
                to=message.to,
                subject=message.subject,
                text=message.text,
                html=message.html,
                from_addr=self.settings.from_addr,
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
        password = self.settings.password
        return text.replace(password, "***") if password else text

    def _fail(
        self, cls: type[MailError], step: str, detail: str, code: int | None = None
    ) -> NoReturn:
        raise cls(
            self._scrub(detail),
            step=step,
            host=self.settings.host,
            port=self.settings.port,
            code=code,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return self.sender.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._fail(TLSFailed, "tls", f"cannot load CA file {self.settings.ca_file}: {reason}")

    def _remaining(self, step: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._fail(
                MailTimeout, step, f"no time left of the {self.settings.timeout:g} s timeout"
            )
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
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            self._fail(AuthFailed, step, f"credentials rejected: {reply}", exc.smtp_code)
        cls = ConnectFailed if step == "connect" else MailError
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
                MailTimeout, step, f"no answer within the {self.settings.timeout:g} s timeout"
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
            self._fail(ConnectFailed, step, f"cannot resolve host: {exc.strerror or exc}")
        if isinstance(exc, ConnectionRefusedError):
            self._fail(ConnectFailed, step, "connection refused (nothing listens on that port)")
        if isinstance(exc, OSError):
            cls = ConnectFailed if step == "connect" else ConnectionDropped
            reason = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, ConnectionError):
                reason = f"connection lost: {reason}"
            self._fail(cls, step, reason)
        raise exc

    # -- the conversation

    def _open(self, mode: EffectiveTLS) -> str:
        """Connect, greet and set up TLS as ``mode`` says; returns the TLS actually used."""
        if mode != "none":
            self.context = self._ssl_context()
        self._connect(mode)
        self._ehlo()
        return self._tls(mode)

    def _tls_version(self) -> str | None:
        sock = self.client.sock if self.client is not None else None
        return sock.version() if isinstance(sock, ssl.SSLSocket) else None

    def _done(self, verb: str) -> float:
        elapsed = time.monotonic() - self.started
        self._record("done", f"{verb} in {elapsed * 1000:.0f} ms")
        return elapsed

    def run(self) -> SendResult:
        settings = self.settings
        mode = effective_tls_mode(settings.tls, settings.port)
        assert self.message is not None
        sender, recipients = _envelope(self.message, settings.from_addr)
        payload = _serialise(self.message)
        message_id = str(self.message.get("Message-ID", "")).strip()
        if settings.strict and settings.has_credentials and mode == "none":
            self._fail(
                InsecureAuthRefused,
                "auth",
                "credentials are never sent without TLS in strict mode; "
                "set SMTP_TLS to auto, starttls or tls",
            )
        try:
            tls_used = self._open(mode)
            authenticated_as = self._auth()
            self._mail(sender, payload)
            accepted = self._rcpt(recipients)
            reply = self._data(payload, message_id)
            tls_version = self._tls_version()
            self._quit()
        finally:
            self._close()
        elapsed = self._done("sent")
        return SendResult(
            host=settings.host,
            port=settings.port,
            tls=tls_used,
            tls_version=tls_version,
            certificate_verified=tls_used != "none" and settings.verify,
            authenticated_as=authenticated_as,
            sender=sender,
            accepted=accepted,
            message_id=message_id,
            size=len(payload),
            reply=reply,
            elapsed=elapsed,
            steps=tuple(self.steps),
        )

    def probe(self) -> ProbeResult:
        settings = self.settings
        try:
            tls_used = self._open(effective_tls_mode(settings.tls, settings.port))
            client = self.client
            assert client is not None
            with self._step("noop"):
                code, reply = client.noop()
            if code != 250:
                self._fail(MailError, "noop", f"unexpected reply {code} {_reply_text(reply)}", code)
            text = f"{code} {_reply_text(reply)}"
            self._record("noop", text)
            tls_version = self._tls_version()
            self._quit()
        finally:
            self._close()
        elapsed = self._done("probed")
        return ProbeResult(
            host=settings.host,
            port=settings.port,
            tls=tls_used,
            tls_version=tls_version,
            certificate_verified=tls_used != "none" and settings.verify,
            reply=text,
            elapsed=elapsed,
            steps=tuple(self.steps),
        )

    def _connect(self, mode: EffectiveTLS) -> None:
        settings = self.settings
        with self._step("connect"):
            remaining = self._remaining("connect")
            # local_hostname is set to skip smtplib's socket.getfqdn() (a DNS lookup that the
            # timeout does not bound); the real EHLO name is chosen once connected.
            if mode == "implicit":
                self.client = _SMTP_SSL(
                    local_hostname="localhost",
                    timeout=remaining,
                    context=self.context,
                )
            else:
                self.client = _SMTP(local_hostname="localhost", timeout=remaining)
            code, greeting = self.client.connect(settings.host, settings.port)
            if code != 220:
                self._fail(
                    ConnectFailed,
                    "connect",
                    f"the server refused the session: {code} {_reply_text(greeting)}",
                    code,
                )
            assert self.client.sock is not None
            self.client.local_hostname = _helo_name(self.client.sock)
            peer = self.client.sock.getpeername()
        self._record(
            "connect",
            f"connected to {settings.host}:{settings.port} ({peer[0]}); "
            f"server says {code} {_reply_text(greeting)}",
        )
        if mode == "implicit":
            self._record("tls", f"implicit TLS: {self._describe_tls()}")

    def _describe_tls(self) -> str:
        sock = self.client.sock  # type: ignore[union-attr]
        assert isinstance(sock, ssl.SSLSocket)
        cipher = sock.cipher()
        checked = (
            f"certificate verified for {self.settings.host}"
            if self.settings.verify
            else "certificate NOT verified (verify is off)"
        )
        return f"{sock.version()} {cipher[0] if cipher else ''}, {checked}"

    def _ehlo(self) -> None:
        client = self.client
        assert client is not None
        with self._step("ehlo"):
            client.ehlo_or_helo_if_needed()
        features = ", ".join(sorted(client.esmtp_features)) or "none (HELO)"
        self._record("ehlo", f"extensions: {features}")

    def _tls(self, mode: EffectiveTLS) -> Literal["implicit", "starttls", "none"]:
        client = self.client
        assert client is not None
        if mode == "implicit":
            return "implicit"
        if mode == "none":
            self._record("tls", "off (TLS mode none)")
            return "none"
        if not client.has_extn("starttls"):
            if mode == "starttls":
                why = "SMTP_TLS=starttls" if self.settings.tls == "starttls" else "port 587"
                self._fail(
                    TLSFailed, "tls", f"the server does not offer STARTTLS (required by {why})"
                )
            self._record("tls", "the server does not offer STARTTLS; continuing unencrypted")
            return "none"
        with self._step("tls"):
            code, reply = client.starttls(context=self.context)
            if code != 220:
                self._fail(TLSFailed, "tls", f"STARTTLS refused: {code} {_reply_text(reply)}")
        self._record("tls", f"STARTTLS: {self._describe_tls()}")
        with self._step("ehlo"):
            client.ehlo()
        return "starttls"

    def _auth(self) -> str | None:
        settings = self.settings
        client = self.client
        assert client is not None
        if not settings.has_credentials:
            self._record("auth", "no credentials configured; not authenticating")
            return None
        encrypted = isinstance(client.sock, ssl.SSLSocket)
        if not encrypted:
            if settings.strict:
                self._fail(
                    InsecureAuthRefused,
                    "auth",
                    "the connection is not encrypted and strict mode never sends credentials "
                    "in the clear; use a server with STARTTLS or implicit TLS",
                )
            self._record("auth", "warning: sending credentials without TLS (development mode)")
        if not client.has_extn("auth"):
            hint = "" if encrypted else " (many servers offer AUTH only after TLS)"
            self._fail(AuthFailed, "auth", f"the server does not offer AUTH{hint}")
        with self._step("auth"):
            try:
                client.login(settings.username or "", settings.password or "")
            except smtplib.SMTPException as exc:
                if isinstance(exc, smtplib.SMTPResponseException):
                    raise
                self._fail(AuthFailed, "auth", str(exc))
        self._record("auth", f"authenticated as {settings.username}")
        return settings.username

    def _mail(self, sender: str, payload: bytes) -> None:
        client = self.client
        assert client is not None
        options: list[str] = []
        if not payload.isascii() and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        with self._step("mail"):
            code, reply = client.mail(sender, options)
        if code != 250:
            self._reset()
            self._fail(
                SenderRefused,
                "mail",
                f"sender <{sender}> refused: {code} {_reply_text(reply)}",
                code,
            )
        self._record("mail", f"MAIL FROM:<{sender}> accepted")

    def _rcpt(self, recipients: list[str]) -> tuple[str, ...]:
        client = self.client
        assert client is not None
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            with self._step("rcpt"):
                code, reply = client.rcpt(rcpt)
            if code in (250, 251):
                accepted.append(rcpt)
                self._record("rcpt", f"RCPT TO:<{rcpt}> accepted")
            else:
                refused[rcpt] = (code, _reply_text(reply))
                self._record("rcpt", f"RCPT TO:<{rcpt}> refused: {code} {_reply_text(reply)}")
        if refused:
            # All or nothing: a partly delivered message is harder to reason about than none.
            self._reset()
            listing = "; ".join(f"<{a}>: {c} {r}" for a, (c, r) in refused.items())
            raise RecipientRefused(
                self._scrub(f"recipient(s) refused, nothing sent: {listing}"),
                refused=refused,
                accepted=accepted,
                step="rcpt",
                host=self.settings.host,
                port=self.settings.port,
                code=next(iter(refused.values()))[0],
            )
        return tuple(accepted)

    def _data(self, payload: bytes, message_id: str) -> str:
        client = self.client
        assert client is not None
        with self._step("data"):
            try:
                code, reply = client.data(payload)
            except smtplib.SMTPDataError as exc:
                code, reply = exc.smtp_code, exc.smtp_error
        if code != 250:
            self._reset()
            self._fail(
                MessageRefused, "data", f"message refused: {code} {_reply_text(reply)}", code
            )
        text = f"{code} {_reply_text(reply)}"
        self._record("data", f"message {message_id} ({len(payload)} bytes) accepted: {text}")
        return text

    def _quit(self) -> None:
        # The message is already accepted: a failing QUIT must not turn success into an error.
        client = self.client
        assert client is not None
        try:
            self._remaining("quit")
            client.quit()
        except (MailError, OSError):
            self.broken = True

    def _reset(self) -> None:
        try:
            self._remaining("rset")
            self.client.rset()  # type: ignore[union-attr]
        except (MailError, OSError):
            self.broken = True

    def _close(self) -> None:
        """Say QUIT if the session still works (briefly), then close the socket."""
        client = self.client
        if client is None:
            return
        if not self.broken and client.sock is not None:
            try:
                if self.deadline - time.monotonic() > 0:
                    client.sock.settimeout(min(1.0, self.deadline - time.monotonic()))
                    client.quit()
            except OSError:
                pass
        client.close()
