"""The development mail sink: a local SMTP server that stores every message as a file.

``ocore dev`` starts one on ``SMTP_HOST:SMTP_PORT`` (localhost:1025 by default, Mailpit's
port) when nothing listens there yet, so development mail works on a fresh machine: each
message lands in ``directory`` as ``YYYYmmdd-HHMMSS-NNNN.eml`` (UTC time, then a sequence
number) and one summary line is logged. The stored file is the message as received, with
``Return-Path`` and one ``Delivered-To`` per envelope recipient prepended, as a local
delivery agent would (so Bcc recipients stay visible).

The sink is for development only: plain SMTP on loopback, any AUTH credentials accepted (so a
configured ``SMTP_USERNAME`` works against it), nothing relayed.
"""

from __future__ import annotations

import datetime
import logging
import socket
import threading
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from ocore_flask.serving.ports import port_in_use

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "MailSink", "port_in_use"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
_SERVER_NAME = "ocore-mail-sink"  # greeting name; avoids aiosmtpd's socket.getfqdn() lookup


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound now so errors (port taken) surface at once.

    Built by hand rather than with ``socket.create_server``: that socket has proto 0, and
    asyncio then skips TCP_NODELAY on accepted connections (40 ms per multi-line reply).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock


class BoundController(Controller):
    """aiosmtpd's threaded Controller on a socket bound beforehand: port 0 works and a taken
    port fails at once (aiosmtpd 1.4 probes the port it was given, and waits on errors)."""

    def __init__(self, handler: Any, *, hostname: str, port: int, **kwargs: Any) -> None:
        super().__init__(handler, hostname=hostname, port=port, **kwargs)
        self._socket: socket.socket | None = None

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._socket, ssl=self.ssl_context
        )

    def start(self) -> None:
        self._socket = _listen(self.hostname, self.port)
        self.port = self._socket.getsockname()[1]
        try:
            super().start()
        except BaseException:
            self._socket.close()
            raise


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=True, auth_data=auth_data)


class _SinkHandler:
    """Stores each message and logs its summary."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        path = self.sink._store(
            envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b""
        )
        return f"250 2.0.0 OK: stored as {path.name}"


class MailSink:
    """A local SMTP server (aiosmtpd ``Controller``) that saves messages as ``.eml`` files."""

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        directory: Path | str,
        logger: logging.Logger | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.directory = Path(directory)
        self.logger = logger or logging.getLogger("ocore_mail.sink")
        self.received = 0
        self._sequence = 0
        self._lock = threading.Lock()
        self._controller: BoundController | None = None

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._controller is not None

    def start(self) -> Self:
        """Bind ``host:port`` and serve in a background thread; ``port`` is the bound port."""
        if self._controller is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = BoundController(
            _SinkHandler(self),
            hostname=self.host,
            port=self.port,
            server_hostname=_SERVER_NAME,
            authenticator=_accept_any_login,
            auth_require_tls=False,
        )
        try:
            controller.start()
        except OSError as exc:
            raise OSError(
                exc.errno, f"mail sink cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from exc
        self._controller = controller
        self.port = controller.port
        self.logger.info(
            "mail sink listening on %s:%d, saving messages to %s",
            self.host,
            self.port,
            self.directory,
        )
        return self

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _store(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        """Write one message to a new file and log a one-line summary."""
        trace = f"Return-Path: <{mail_from}>\r\n" + "".join(
            f"Delivered-To: {rcpt}\r\n" for rcpt in rcpt_tos
        )
        data = trace.encode("utf-8", "surrogateescape") + content
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
        with self._lock:
            while True:
                self._sequence += 1
                path = self.directory / f"{stamp}-{self._sequence:04d}.eml"
                try:
                    with path.open("xb") as handle:  # never overwrite an earlier message
                        handle.write(data)
                    break
                except FileExistsError:
                    continue
            self.received += 1
        try:
            headers = BytesHeaderParser(policy=policy.default).parsebytes(content)
            subject = str(headers.get("Subject", ""))
        except Exception:  # a malformed header must not lose the message; it is stored already
            subject = "(unreadable subject)"
        self.logger.info(
            "mail sink: from=<%s> to=%s subject=%r size=%d file=%s",
            mail_from,
            ",".join(f"<{r}>" for r in rcpt_tos),
            subject,
            len(content),
            path,
        )
        return path
