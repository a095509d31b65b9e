"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1 ephemeral ports, plus a throwaway CA.

Everything here is a context manager (or has ``start``/``stop``) so pytest fixtures can wrap
it later:

- ``CertificateAuthority``: a CA generated with ``cryptography`` (EC P-256, valid one day)
  that issues server certificates; ``ca_file`` is the PEM to trust.
- ``SMTPTestServer``: an aiosmtpd server in the variant asked for: plain, STARTTLS offered
  (``require_starttls`` on or off), implicit TLS, with or without AUTH, refusing some
  recipients, or dropping the connection at a given command. It records every command it
  saw (``commands``), every AUTH attempt (``auth_attempts``) and every accepted message
  (``messages``: envelope and raw bytes).
- ``SilentServer``: accepts TCP connections and never says a word (timeouts).
- ``ClosedPort``: a port that is bound but not listening, so connections are refused.

aiosmtpd 1.4.6 notes: ``Controller(port=0)`` binds an ephemeral port but then probes
``self.port`` (still 0) to trigger its lazy start, so ``_BoundController`` binds the socket
itself and hands it to ``loop.create_server(sock=...)``; bind errors then surface at once
instead of after the 5 s ready timeout. SMTP keyword arguments (``tls_context``,
``require_starttls``, ``authenticator``, ``auth_require_tls``...) are passed straight to
``Controller`` (``server_kwargs`` is deprecated); implicit TLS is ``ssl_context``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocore_mail.sink import BoundController

__all__ = [
    "LOOPBACK",
    "CertificateAuthority",
    "ClosedPort",
    "Command",
    "ReceivedMessage",
    "SMTPTestServer",
    "ServerCertificate",
    "SilentServer",
    "port_is_free",
]

LOOPBACK = "127.0.0.1"
SERVER_NAME = "localhost"  # greeting name; skips aiosmtpd's socket.getfqdn() (a DNS lookup)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` can be bound now (e.g. 465, only as root and if unused)."""
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class ServerCertificate:
    """A server certificate and key on disk, and a server TLS context using them."""

    cert_file: Path
    key_file: Path
    names: tuple[str, ...]

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting this certificate (no client certificates)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class CertificateAuthority:
    """A throwaway CA (files in a temporary directory, removed by ``close``)."""

    def __init__(self, common_name: str = "ocore test CA") -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="ocore-test-ca-"))
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self.directory / "ca.pem"
        self.ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self._issued = 0

    def issue(self, names: Iterable[str] = (SERVER_NAME, LOOPBACK)) -> ServerCertificate:
        """Issue a server certificate whose SAN lists ``names`` (DNS names or IP addresses)."""
        names = tuple(names)
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for entry in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(entry)))
            except ValueError:
                sans.append(x509.DNSName(entry))
        now = datetime.datetime.now(datetime.UTC)
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        self._issued += 1
        cert_file = self.directory / f"server-{self._issued}.pem"
        key_file = self.directory / f"server-{self._issued}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return ServerCertificate(cert_file=cert_file, key_file=key_file, names=names)

    def close(self) -> None:
        """Remove the CA's files."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------- SMTP servers


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


class SilentServer:
    """A TCP listener that never accepts: connects succeed, then nothing is ever said."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._socket = socket.create_server((host, 0), backlog=8)
        self.port: int = self._socket.getsockname()[1]

    def close(self) -> None:
        """Stop listening."""
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ClosedPort:
    """A port that is bound but not listening while open: connections are refused."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]

    def close(self) -> None:
        """Release the port."""
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
