"""The SMTP conversation: connect, TLS, AUTH, MAIL/RCPT/DATA and QUIT, or a probe's NOOP."""

from __future__ import annotations

import smtplib
import ssl
import time
from typing import Literal

from .errors import (
    AuthFailed,
    InsecureAuthRefused,
    MailError,
    MessageRefused,
    RecipientRefused,
    SenderRefused,
    SMTPConnectError,
    TLSFailed,
)
from .message import envelope, serialise
from .options import EffectiveTLS, effective_tls_mode
from .results import ProbeResult, SendResult
from .smtp import SMTPClient, SMTPSSLClient, helo_name, reply_text
from .steps import StepRunner


class Session(StepRunner):
    """One SMTP conversation: each step traced, timed against one deadline, errors mapped."""

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
        settings = self.options
        mode = effective_tls_mode(settings.tls, settings.port)
        assert self.message is not None
        sender, recipients = envelope(self.message, settings.from_addr)
        payload = serialise(self.message)
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
        settings = self.options
        try:
            tls_used = self._open(effective_tls_mode(settings.tls, settings.port))
            client = self.client
            assert client is not None
            with self._step("noop"):
                code, reply = client.noop()
            if code != 250:
                self._fail(MailError, "noop", f"unexpected reply {code} {reply_text(reply)}", code)
            text = f"{code} {reply_text(reply)}"
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
        settings = self.options
        with self._step("connect"):
            remaining = self._remaining("connect")
            # local_hostname is set to skip smtplib's socket.getfqdn() (a DNS lookup that the
            # timeout does not bound); the real EHLO name is chosen once connected.
            if mode == "implicit":
                self.client = SMTPSSLClient(
                    local_hostname="localhost",
                    timeout=remaining,
                    context=self.context,
                )
            else:
                self.client = SMTPClient(local_hostname="localhost", timeout=remaining)
            code, greeting = self.client.connect(settings.host, settings.port)
            if code != 220:
                self._fail(
                    SMTPConnectError,
                    "connect",
                    f"the server refused the session: {code} {reply_text(greeting)}",
                    code,
                )
            assert self.client.sock is not None
            self.client.local_hostname = helo_name(self.client.sock)
            peer = self.client.sock.getpeername()
        self._record(
            "connect",
            f"connected to {settings.host}:{settings.port} ({peer[0]}); "
            f"server says {code} {reply_text(greeting)}",
        )
        if mode == "implicit":
            self._record("tls", f"implicit TLS: {self._describe_tls()}")

    def _describe_tls(self) -> str:
        sock = self.client.sock  # type: ignore[union-attr]
        assert isinstance(sock, ssl.SSLSocket)
        cipher = sock.cipher()
        checked = (
            f"certificate verified for {self.options.host}"
            if self.options.verify
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
                why = "SMTP_TLS=starttls" if self.options.tls == "starttls" else "port 587"
                self._fail(
                    TLSFailed, "tls", f"the server does not offer STARTTLS (required by {why})"
                )
            self._record("tls", "the server does not offer STARTTLS; continuing unencrypted")
            return "none"
        with self._step("tls"):
            code, reply = client.starttls(context=self.context)
            if code != 220:
                self._fail(TLSFailed, "tls", f"STARTTLS refused: {code} {reply_text(reply)}")
        self._record("tls", f"STARTTLS: {self._describe_tls()}")
        with self._step("ehlo"):
            client.ehlo()
        return "starttls"

    def _auth(self) -> str | None:
        settings = self.options
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
                f"sender <{sender}> refused: {code} {reply_text(reply)}",
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
                refused[rcpt] = (code, reply_text(reply))
                self._record("rcpt", f"RCPT TO:<{rcpt}> refused: {code} {reply_text(reply)}")
        if refused:
            # All or nothing: a partly delivered message is harder to reason about than none.
            self._reset()
            listing = "; ".join(f"<{a}>: {c} {r}" for a, (c, r) in refused.items())
            raise RecipientRefused(
                self._scrub(f"recipient(s) refused, nothing sent: {listing}"),
                refused=refused,
                accepted=accepted,
                step="rcpt",
                host=self.options.host,
                port=self.options.port,
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
            self._fail(MessageRefused, "data", f"message refused: {code} {reply_text(reply)}", code)
        text = f"{code} {reply_text(reply)}"
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
