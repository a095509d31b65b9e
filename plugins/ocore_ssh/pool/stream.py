"""Byte streams over one SSH session: a remote command's stdout into a local file, a local
file into its stdin (backups and restores), without holding either in memory.

fabric's runner decodes output as text and keeps it all; this talks to the paramiko channel
directly. The caller's stdout sink and stdin source are plain binary file objects: an error
they raise (a full disk, a short read) kills the remote command and propagates unchanged. The
timeout covers the whole command; on expiry the remote command is sent SIGKILL and its channel
closed (``CommandTimeout``). stderr is drained concurrently (a chatty command cannot stall the
channel's window) and only its tail is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

import paramiko

from ..hostkeys import SSHError
from .errors import CommandTimeout, ConnectionLost
from .runner import signal_channel, transport_alive
from .targets import SSHTarget

if TYPE_CHECKING:
    from .state import Slot

#: bytes read or written per call; large reads keep Python's per-call cost small
CHUNK = 256 * 1024
#: the session's receive window (paramiko's default): a larger one is slower, since paramiko's
#: receive buffer copies what it still holds on every read (16 MiB: ~5x slower, measured)
WINDOW = 2 * 1024 * 1024
#: stderr bytes kept (the last ones)
STDERR_TAIL = 8 * 1024
#: how often blocked reads and writes look at the deadline
POLL = 0.25


class Sink(Protocol):
    """Where stdout goes: anything with a binary ``write``."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class StreamResult:
    """Outcome of one streamed command; ``exit_status`` is -1 when it sent none (killed by a
    signal). ``stdout_tail`` holds stdout's last bytes when no sink was given."""

    exit_status: int
    stderr_tail: str
    bytes_out: int
    bytes_in: int
    duration: float
    stdout_tail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command exited with status 0."""
        return self.exit_status == 0

    @property
    def last_stderr_line(self) -> str:
        """The last non-empty line of stderr (unscrubbed: the caller scrubs what it shows)."""
        lines = [line.strip() for line in self.stderr_tail.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class _Tail:
    """The last ``size`` bytes written to it."""

    def __init__(self, size: int = STDERR_TAIL) -> None:
        self.size = size
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.size:
            del self.data[: len(self.data) - self.size]

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


class _Session:
    """One exec session: the reader of stdout (the caller's thread), a stderr drainer and an
    optional stdin feeder, sharing a deadline and a stop flag."""

    def __init__(self, channel: paramiko.Channel, server: str, timeout: float) -> None:
        self.channel = channel
        self.server = server
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.stop = threading.Event()
        self.failure: BaseException | None = None  # a local error from the stdin thread
        self.stderr = _Tail()
        self.bytes_in = 0

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def kill(self) -> None:
        """SIGKILL the remote command and close the channel; the helper threads end."""
        self.stop.set()
        signal_channel(self.channel, "KILL")

    def drain_stderr(self) -> None:
        while not self.stop.is_set():
            try:
                chunk = self.channel.recv_stderr(CHUNK)
            except TimeoutError:
                continue
            except Exception:  # the channel went away: the reader reports it
                return
            if not chunk:
                return
            self.stderr.add(chunk)

    def feed_stdin(self, source: BinaryIO) -> None:
        try:
            while not self.stop.is_set():
                data = source.read(CHUNK)
                if not data:
                    with suppress(Exception):
                        self.channel.shutdown_write()
                    return
                view = memoryview(data)
                while view and not self.stop.is_set():
                    try:
                        sent = self.channel.send(view[:CHUNK])
                    except TimeoutError:
                        continue
                    except OSError:  # closed: the command exited without reading it all
                        return
                    if sent == 0:
                        return
                    view = view[sent:]
                    self.bytes_in += sent
        except BaseException as exc:  # a local read error: stop the command, report it
            self.failure = exc
            self.kill()


def stream_session(
    channel: paramiko.Channel,
    command: str,
    *,
    server: str,
    timeout: float,
    stdout: Sink | None = None,
    stdin: BinaryIO | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> StreamResult:
    """Run ``command`` on an open session ``channel`` and stream it; the channel is closed
    afterwards. ``on_progress`` gets the bytes streamed so far (stdout, or stdin when given),
    always in the caller's thread."""
    session = _Session(channel, server, timeout)
    started = time.monotonic()
    channel.settimeout(POLL)
    channel.exec_command(command)
    helpers = [threading.Thread(target=session.drain_stderr, name="ocore-ssh-stderr", daemon=True)]
    if stdin is not None:
        feeder = threading.Thread(
            target=session.feed_stdin,
            args=(stdin,),
            name="ocore-ssh-stdin",
            daemon=True,
        )
        helpers.append(feeder)
    else:
        channel.shutdown_write()  # the command reads EOF, never waits for input
    for helper in helpers:
        helper.start()
    out_tail = _Tail() if stdout is None else None
    bytes_out = 0
    try:
        while True:
            if session.expired():
                raise _Expired
            if stdin is not None and on_progress is not None:
                on_progress(session.bytes_in)  # from the caller's thread, at least every POLL
            try:
                data = channel.recv(CHUNK)
            except TimeoutError:
                if session.stop.is_set() and session.failure is not None:
                    break
                continue
            if not data:
                break
            bytes_out += len(data)
            if out_tail is not None:
                out_tail.add(data)
            else:
                assert stdout is not None
                stdout.write(data)
                if on_progress is not None and stdin is None:
                    on_progress(bytes_out)
        # stdout is at EOF; the exit status follows (or the channel closes without one)
        while not channel.status_event.wait(POLL):
            if session.expired():
                raise _Expired
        if session.failure is not None:
            raise session.failure
    except _Expired:
        session.kill()
        _join(helpers)
        raise CommandTimeout(
            f"command on server {server!r} exceeded its {timeout:g}s timeout and was killed",
            server=server,
            timeout=timeout,
            stdout="",
            stderr=session.stderr.text(),
        ) from None
    except BaseException:
        session.kill()  # a local write error, KeyboardInterrupt...: the command must not go on
        _join(helpers)
        raise
    helpers[0].join(timeout=2)  # stderr reaches EOF with stdout: keep its last bytes
    session.stop.set()
    _join(helpers)
    transport = channel.get_transport()
    status = channel.exit_status
    with suppress(Exception):
        channel.close()
    if status == -1 and (transport is None or not transport.is_active()):
        raise ConnectionLost(
            f"connection to server {server!r} was lost while streaming the command",
            server=server,
        )
    return StreamResult(
        exit_status=status,
        stderr_tail=session.stderr.text(),
        bytes_out=bytes_out,
        bytes_in=session.bytes_in,
        duration=time.monotonic() - started,
        stdout_tail=out_tail.text() if out_tail is not None else "",
    )


class _Expired(Exception):
    """The deadline passed (internal)."""


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=5)


class Streamer:
    """``SSHPool.stream`` (a base of SSHPool): one streamed command on a pooled connection."""

    connect_timeout: float
    command_timeout: float

    if TYPE_CHECKING:  # provided by SSHPool

        def _acquire(self, target: SSHTarget) -> Slot: ...

        def _release(self, name: str, slot: Slot) -> None: ...

        def _record_failure(
            self, target: SSHTarget, message: str, *, count: bool = True
        ) -> None: ...

    def stream(
        self,
        target: SSHTarget,
        command: str,
        *,
        stdout: Sink | None = None,
        stdin: BinaryIO | None = None,
        timeout: float | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> StreamResult:
        """Run ``command`` on ``target`` streaming bytes: stdout into ``stdout``, ``stdin``
        into its input (see ``stream.stream_session``); a non-zero exit is returned."""
        limit = self.command_timeout if timeout is None else timeout
        if limit <= 0:
            raise ValueError("timeout must be positive")
        for attempt in range(2):
            slot = self._acquire(target)
            try:
                try:
                    channel = slot.conn.transport.open_session(
                        window_size=WINDOW, timeout=self.connect_timeout
                    )
                    slot.conn.sessions_opened += 1
                except (SSHError, paramiko.SSHException, EOFError, OSError) as exc:
                    if transport_alive(slot.conn):
                        raise SSHError(
                            f"could not run the command on server {target.name!r}: {exc}",
                            server=target.name,
                        ) from exc
                    if attempt == 0:  # died before the command was sent: reconnect once
                        self._record_failure(target, f"connection lost: {exc}", count=False)
                        continue
                    error = ConnectionLost(
                        f"connection to server {target.name!r} ({target.address}) was lost "
                        f"before running the command: {exc}",
                        server=target.name,
                    )
                    self._record_failure(target, str(error))
                    raise error from exc
                try:
                    return stream_session(
                        channel,
                        command,
                        server=target.name,
                        timeout=limit,
                        stdout=stdout,
                        stdin=stdin,
                        on_progress=on_progress,
                    )
                except ConnectionLost as exc:
                    self._record_failure(target, str(exc))
                    raise
                except (paramiko.SSHException, EOFError) as exc:
                    error = ConnectionLost(
                        f"connection to server {target.name!r} ({target.address}) failed "
                        f"while streaming the command: {exc}",
                        server=target.name,
                    )
                    self._record_failure(target, str(error))
                    raise error from exc
            finally:
                self._release(target.name, slot)
        raise AssertionError("unreachable")  # pragma: no cover
