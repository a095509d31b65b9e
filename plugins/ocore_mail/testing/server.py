"""A real aiosmtpd SMTP server on 127.0.0.1 for tests, in the variant asked for: plain,
STARTTLS offered (``require_starttls`` on or off), implicit TLS, with or without AUTH, refusing
some recipients, or dropping the connection at a given command. It records every command it
saw (``commands``), every AUTH attempt (``auth_attempts``) and every accepted message
(``messages``: envelope and raw bytes).

aiosmtpd 1.4.6 notes: ``Controller(port=0)`` binds an ephemeral port but then probes
``self.port`` (still 0) to trigger its lazy start, so the sink's ``BoundController`` binds the
socket itself and hands it to ``loop.create_server(sock=...)``; bind errors then surface at
once instead of after the 5 s ready timeout. SMTP keyword arguments (``tls_context``,
``require_starttls``, ``authenticator``, ``auth_require_tls``...) are passed straight to
``Controller`` (``server_kwargs`` is deprecated); implicit TLS is ``ssl_context``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ocore_mail.sink import BoundController
from ocore_mail.testing.certificates import ServerCertificate
from ocore_mail.testing.sockets import LOOPBACK, SERVER_NAME


@dataclass(frozen=True)
class ReceivedMessage:
    """One message a test server accepted: envelope, raw bytes, and how it arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    encrypted: bool
    authenticated_as: str | None

    def parsed(self) -> EmailMessage:
        """The content parsed with the modern e-mail policy, line ends turned into ``\\n``."""
        content = self.content.replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class Command:
    """One SMTP command a test server received, and whether TLS was active then."""

    verb: str
    encrypted: bool


DropAt = Literal["MAIL", "RCPT", "DATA"]


@dataclass
class _Recorder:
    commands: list[Command] = field(default_factory=list)
    auth_attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    messages: list[ReceivedMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _encrypted(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Handler:
    """aiosmtpd handler: refuses, drops or records, as the test server was told."""

    def __init__(
        self,
        recorder: _Recorder,
        refuse: frozenset[str],
        drop_at: DropAt | None,
        offer_auth: bool,
    ) -> None:
        self.recorder = recorder
        self.offer_auth = offer_auth
        self.refuse = refuse
        self.drop_at = drop_at

    async def _drop(self, server: SMTP) -> None:
        # Abort the TCP connection and wait: aiosmtpd cancels this coroutine when it notices.
        assert server.transport is not None
        server.transport.abort()
        await asyncio.sleep(30)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handler that has the hook
        if self.offer_auth:
            return responses
        return [line for line in responses if not line[4:].upper().startswith("AUTH")]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.drop_at == "MAIL":
            await self._drop(server)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.drop_at == "RCPT":
            await self._drop(server)
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_at == "DATA":
            await self._drop(server)
        login = session.auth_data.login.decode() if session.authenticated else None
        content = envelope.original_content or b""
        with self.recorder.lock:
            self.recorder.messages.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    content=content,
                    encrypted=_encrypted(server),
                    authenticated_as=login,
                )
            )
        return "250 2.0.0 OK: queued"


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that logs each command verb before handling it."""

    def __init__(self, handler: Any, *, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._recorder = recorder
        # aiosmtpd dispatches through this private table; wrap every entry once.
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recording(verb, method)

    def _recording(self, verb: str, method: Any) -> Any:
        async def wrapper(arg: str | None) -> None:
            with self._recorder.lock:
                self._recorder.commands.append(Command(verb, _encrypted(self)))
            await method(arg)

        return wrapper


class _BoundController(BoundController):
    """The sink's bound controller, recording the SMTP dialogue when asked."""

    def __init__(
        self,
        handler: Any,
        *,
        hostname: str,
        port: int,
        recorder: _Recorder | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, hostname=hostname, port=port, **kwargs)
        self._recorder = recorder

    def factory(self) -> SMTP:
        if self._recorder is None:
            return SMTP(self.handler, **self.SMTP_kwargs)
        return _RecordingSMTP(self.handler, recorder=self._recorder, **self.SMTP_kwargs)


class SMTPTestServer:
    """A real aiosmtpd server on 127.0.0.1 in one of the variants tests need.

    ``tls``: ``"none"`` (plain), ``"starttls"`` (offered; mandatory with
    ``require_starttls``) or ``"implicit"`` (TLS from the first byte); both TLS variants
    need ``certificate``. ``users`` enables AUTH (PLAIN, LOGIN) with those name/password
    pairs; without it the server never advertises AUTH (and answers one with 535).
    ``auth_require_tls`` (aiosmtpd's default, True) offers AUTH only under STARTTLS
    (implicit-TLS servers always offer it: aiosmtpd does not see that TLS).
    ``refuse`` lists recipients answered with 550; ``drop_at`` aborts the connection when
    that command (MAIL, RCPT, or the end of DATA) arrives.
    """

    def __init__(
        self,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        certificate: ServerCertificate | None = None,
        require_starttls: bool = False,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        refuse: Iterable[str] = (),
        drop_at: DropAt | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        **smtp_kwargs: Any,
    ) -> None:
        if tls != "none" and certificate is None:
            raise ValueError(f"a {tls} test server needs a certificate")
        self.tls = tls
        self.users = dict(users or {})
        self._recorder = _Recorder()
        handler = _Handler(
            self._recorder, frozenset(r.lower() for r in refuse), drop_at, users is not None
        )
        kwargs: dict[str, Any] = {
            "server_hostname": SERVER_NAME,
            "auth_require_tls": auth_require_tls,
            "ready_timeout": 5.0,
            **smtp_kwargs,
        }
        if tls == "starttls":
            assert certificate is not None
            kwargs["tls_context"] = certificate.server_context()
            kwargs["require_starttls"] = require_starttls
        elif tls == "implicit":
            assert certificate is not None
            kwargs["ssl_context"] = certificate.server_context()
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls, so it would hide AUTH
            # on an implicit-TLS connection; every byte is encrypted here anyway.
            kwargs["auth_require_tls"] = False
        if users is not None:
            kwargs["authenticator"] = self._authenticate
        self._controller = _BoundController(
            handler, hostname=host, port=port, recorder=self._recorder, **kwargs
        )
        self.host = host
        self.port = port

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        ok = False
        login = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            ok = login in self.users and self.users[login] == password
        with self._recorder.lock:
            self._recorder.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages accepted so far (a copy)."""
        with self._recorder.lock:
            return list(self._recorder.messages)

    @property
    def commands(self) -> list[Command]:
        """Every command received so far, in order (a copy)."""
        with self._recorder.lock:
            return list(self._recorder.commands)

    @property
    def verbs(self) -> list[str]:
        """Just the command verbs received so far."""
        return [command.verb for command in self.commands]

    @property
    def auth_attempts(self) -> list[tuple[str, str, bool]]:
        """(mechanism, login, success) of every AUTH that reached the authenticator."""
        with self._recorder.lock:
            return list(self._recorder.auth_attempts)

    def start(self) -> Self:
        """Bind and serve; ``port`` is the bound port afterwards."""
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
