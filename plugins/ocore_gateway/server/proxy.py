"""One proxied session: the client's channel (``FrontSession``) joined to a channel on the
managed server (``BackSession``), byte for byte.

Both channels carry bytes (no encoding), so a shell with a PTY, ``exec`` (``scp`` included) and
any subsystem (SFTP) pass through unchanged. Flow control is end to end: when one side's send
buffer fills, the other side stops reading. Window changes, breaks and signals go to the
server; exit status or exit signal come back once everything the server sent was delivered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import asyncssh

from ocore_gateway.server.backend import BackendError

if TYPE_CHECKING:
    from ocore_gateway.server.connection import GatewayConnection

log = logging.getLogger("ocore_gateway")

DRAIN_POLL = 0.005
EXIT_GATEWAY_ERROR = (
    255  # what OpenSSH's ssh(1) exits with when the connection, not the command, failed
)


class FrontSession(asyncssh.SSHServerSession):
    """The client's session channel; the backend channel opens once the request is known."""

    def __init__(self, owner: GatewayConnection) -> None:
        self.owner = owner
        self.chan: Any = None
        self.back: Any = None
        self.kind = "shell"
        self.command: str | None = None
        self.pty: tuple[str, tuple[int, int, int, int], Any] | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.exit_status: int | None = None
        self.exit_signal: tuple[str, bool, str, str] | None = None
        self.error: str | None = None
        self.audit_id: int | None = None
        self._pending: list[bytes] = []  # what the client sent before the server's channel opened
        self._eof = False
        self._done = False

    # -- the client's requests ---------------------------------------------------------------

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        self.pty = (term_type, tuple(term_size), term_modes)
        return True

    def shell_requested(self) -> bool:
        self.kind, self.command = "shell", None
        return True

    def exec_requested(self, command: str) -> bool:
        self.kind, self.command = "exec", command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self.kind, self.command = "subsystem", subsystem
        return True

    def session_started(self) -> None:
        self.owner.spawn(self._open())

    async def _open(self) -> None:
        owner = self.owner
        try:
            self.audit_id = await owner.audit_open(self)
            conn = await owner.backend()
            options: dict[str, Any] = {
                "command": self.command if self.kind == "exec" else None,
                "subsystem": self.command if self.kind == "subsystem" else None,
                "env": dict(self.chan.get_environment_bytes()),
                "encoding": None,
                "x11_forwarding": False,
                "request_pty": False,
            }
            if self.pty is not None:
                term_type, term_size, term_modes = self.pty
                options.update(
                    request_pty="force",
                    term_type=term_type,
                    term_size=term_size,
                    term_modes=term_modes,
                )
            try:
                chan, _ = await conn.create_session(lambda: BackSession(self), **options)
            except asyncssh.ChannelOpenError as exc:
                raise BackendError(
                    f"server {owner.login.target!r} refused the session: {exc.reason}"
                ) from None
        except BackendError as exc:
            self.refuse(str(exc))
            return
        except Exception:  # a bug must not leave the client hanging
            log.exception("gateway: opening a session to %s failed", owner.login.target)
            self.refuse("internal error while opening the session (see the gateway log)")
            return
        if self._done:  # the client went away meanwhile
            chan.close()
            return
        self.back = chan
        for data in self._pending:
            chan.write(data)
        self._pending.clear()
        if self._eof:
            chan.write_eof()
        self.chan.resume_reading()

    def end(self, message: str) -> None:
        """Stop the session from the gateway's side (idle, shutting down), telling the client."""
        if self._done:
            return
        self.error = message
        if self.back is not None:
            self.back.close()
        try:
            self.chan.write_stderr(f"\r\nocore gateway: {message}\r\n".encode())
            self.chan.exit(EXIT_GATEWAY_ERROR)
        except (OSError, asyncssh.Error):
            pass

    def refuse(self, message: str) -> None:
        """Tell the client why on stderr (one line) and end the session with status 255."""
        self.error = message
        log.warning(
            "gateway: session of %s to %s refused: %s",
            self.owner.login.email,
            self.owner.login.target,
            message,
        )
        try:
            self.chan.write_stderr(f"ocore gateway: {message}\r\n".encode())
            self.chan.exit(EXIT_GATEWAY_ERROR)
        except (OSError, asyncssh.Error):
            pass
        self.finish()

    # -- data and events from the client -----------------------------------------------------

    def data_received(self, data: bytes, datatype: Any) -> None:
        self.bytes_in += len(data)
        self.owner.touch()
        if self.back is None:  # hold it, and the rest, until the server's channel is open
            self._pending.append(data)
            self.chan.pause_reading()
            return
        try:
            self.back.write(data)
        except (OSError, asyncssh.Error):  # the server's channel is closing: drop the rest
            pass

    def eof_received(self) -> bool:
        if self.back is not None:
            self.back.write_eof()
        else:
            self._eof = True
        return True

    def break_received(self, msec: int) -> bool:
        if self.back is not None:
            self.back.send_break(msec)
        return True

    def signal_received(self, signal: str) -> None:
        if self.back is not None:
            self.back.send_signal(signal)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self.back is not None:
            self.back.change_terminal_size(width, height, pixwidth, pixheight)
        elif self.pty is not None:
            self.pty = (self.pty[0], (width, height, pixwidth, pixheight), self.pty[2])

    def pause_writing(self) -> None:
        if self.back is not None:
            self.back.pause_reading()

    def resume_writing(self) -> None:
        if self.back is not None:
            self.back.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.back is not None:
            self.back.close()
        if exc is not None and self.error is None and self.exit_status is None:
            self.error = f"client connection lost: {exc}"
        self.finish()

    # -- the end -----------------------------------------------------------------------------

    async def backend_closed(self, exc: Exception | None) -> None:
        """The server's channel closed: deliver what is buffered, then the exit status."""
        chan = self.chan
        while not self._done and chan.get_write_buffer_size() > 0:
            await asyncio.sleep(DRAIN_POLL)
        try:
            if self.exit_signal is not None:
                chan.exit_with_signal(*self.exit_signal)
            elif self.exit_status is not None:
                chan.exit(self.exit_status)
            elif exc is not None:
                self.error = f"connection to server {self.owner.login.target!r} lost: {exc}"
                chan.write_stderr(f"ocore gateway: {self.error}\r\n".encode())
                chan.exit(EXIT_GATEWAY_ERROR)
            else:
                chan.close()
        except (OSError, asyncssh.Error):
            pass
        self.finish()

    def finish(self) -> None:
        """Count the session out and close its audit row (once)."""
        if self._done:
            return
        self._done = True
        self.owner.session_ended(self)


class BackSession(asyncssh.SSHClientSession):
    """The managed server's side of a session: what it sends goes to the client."""

    def __init__(self, front: FrontSession) -> None:
        self.front = front
        self.chan: Any = None

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: Any) -> None:
        front = self.front
        front.bytes_out += len(data)
        front.owner.touch()
        try:
            if datatype == asyncssh.EXTENDED_DATA_STDERR:
                front.chan.write_stderr(data)
            else:
                front.chan.write(data)
        except (OSError, asyncssh.Error):  # the client went away: drop the rest
            pass

    def eof_received(self) -> bool:
        try:
            self.front.chan.write_eof()
        except (OSError, asyncssh.Error):
            pass
        return True

    def exit_status_received(self, status: int) -> None:
        self.front.exit_status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self.front.exit_signal = (signal, core_dumped, msg, lang)

    def pause_writing(self) -> None:
        self.front.chan.pause_reading()

    def resume_writing(self) -> None:
        self.front.chan.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.owner.spawn(self.front.backend_closed(exc))
