"""``ocore gateway``'s process: the asyncssh server on SSH_LISTEN_ADDR, its heartbeat, the idle
reaper and a graceful stop on SIGTERM/SIGINT.

One event loop carries every connection; what blocks (the database, the vault's decryption)
runs in a small thread pool. Stopping: the listener closes at once, open sessions get
SSH_GATEWAY_SHUTDOWN_TIMEOUT to end on their own, then every connection is closed with a
reason the client prints; audit rows are completed and the heartbeat row is marked stopped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncssh

import ocore_flask
from ocore_gateway.server.backend import Targets
from ocore_gateway.server.connection import GatewayConnection
from ocore_gateway.server.logins import Login, Registry, authorize
from ocore_gateway.server.proxy import FrontSession
from ocore_gateway.service import GatewayService

log = logging.getLogger("ocore_gateway")
T = TypeVar("T")

SERVER_VERSION = "ocore_gateway"
#: AES-GCM first and no ChaCha20-Poly1305: clients pick their first cipher the server offers
#: (OpenSSH: chacha20), and in asyncssh AES-GCM runs in OpenSSL, about 1.5x as fast.
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
THREADS = 4
REAP_EVERY = 1.0


@dataclass
class Summary:
    """What the process did, printed when it stops (``--json``)."""

    listen_address: str = ""
    host_key_fingerprint: str = ""
    connections: int = 0
    sessions: int = 0
    stopped_by: str | None = None
    closed_at_shutdown: int = 0
    errors: list[str] = field(default_factory=list)


class Gateway:
    """The process-wide state every connection shares."""

    def __init__(
        self, service: GatewayService, *, connect_timeout: float, keepalive: float
    ) -> None:
        """``service``: the app's gateway service; timeouts of the backend connections."""
        self.service = service
        self.settings = service.settings
        self.registry = Registry(self.settings.max_sessions, self.settings.max_sessions_per_user)
        self.targets = Targets(service.servers, service.vault)
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.stopping = False
        self.summary = Summary(listen_address=str(self.settings.listen))
        self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix="ocore-gateway")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._users = service.users
        self._servers = service.servers

    def __repr__(self) -> str:
        return f"<Gateway {self.settings.listen} {self.registry!r}>"

    async def run_sync(self, func: Callable[..., T], *args: Any) -> T:
        """Run blocking ``func(*args)`` in the gateway's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task awaited at shutdown; its failure is logged, not lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway: background task failed", exc_info=task.exception())

    async def authorize(self, username: str, fingerprint: str) -> Login | None:
        """The login decision for a presented key (see ``logins.authorize``)."""
        service = self.service
        return await self.run_sync(
            authorize,
            service.keys,
            service.grants,
            self._users,
            self._servers,
            username,
            fingerprint,
        )

    def session_ended(self, session: FrontSession) -> None:
        """Complete the audit row of a finished session."""
        self.summary.sessions += 1
        log.info(
            "gateway: session ended: %s to %s: exit %s, %d bytes in, %d out%s",
            session.owner.login.email if session.owner.login else "?",
            session.owner.username,
            session.exit_signal[0] if session.exit_signal else session.exit_status,
            session.bytes_in,
            session.bytes_out,
            f" ({session.error})" if session.error else "",
        )
        if session.audit_id is None:
            return
        self.spawn(
            self.run_sync(
                lambda: self.service.audit.close(
                    session.audit_id,  # type: ignore[arg-type]
                    bytes_in=session.bytes_in,
                    bytes_out=session.bytes_out,
                    exit_status=session.exit_status,
                    exit_signal=session.exit_signal[0] if session.exit_signal else None,
                    error=session.error,
                )
            )
        )

    async def drain(self) -> None:
        """Wait for every background task (audit rows, key touches)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Release the thread pool."""
        self._executor.shutdown(wait=True)


def instance_name(listen: str) -> str:
    """This process's heartbeat key: host name and listen address."""
    return f"{socket.gethostname()}/{listen}"


async def _heartbeat(gateway: Gateway, instance: str, started: datetime, fingerprint: str) -> None:
    interval = gateway.settings.heartbeat_interval.seconds
    failing = False
    while True:
        registry = gateway.registry
        try:
            await gateway.run_sync(
                functools.partial(
                    gateway.service.heartbeats.beat,
                    instance,
                    started_at=started,
                    listen_address=str(gateway.settings.listen),
                    pid=os.getpid(),
                    version=ocore_flask.__version__,
                    host_key_fingerprint=fingerprint,
                    active_sessions=registry.sessions,
                    active_connections=len(registry.connections),
                )
            )
            if failing:
                log.info("gateway: heartbeat written again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("gateway: cannot write the heartbeat: %s", type(exc).__name__)
            failing = True
        await asyncio.sleep(interval)


async def _reap_idle(gateway: Gateway) -> None:
    idle = gateway.settings.idle_timeout.seconds
    loop = asyncio.get_running_loop()
    while idle:
        await asyncio.sleep(min(REAP_EVERY, idle / 4))
        now = loop.time()
        for conn in list(gateway.registry.connections):
            if now - conn.last_activity > idle:
                log.info("gateway: closing idle connection %r", conn)
                conn.touch()  # once: the client gets the grace period to close it
                conn.close_with(f"idle for {gateway.settings.idle_timeout}, closing")


async def serve(gateway: Gateway, on_ready: Callable[[str, str], None] | None = None) -> Summary:
    """Listen until SIGTERM/SIGINT, then stop gracefully; what happened."""
    settings = gateway.settings
    key, info = await gateway.run_sync(gateway.service.host_keys.load)
    summary = gateway.summary
    summary.host_key_fingerprint = info.fingerprint
    logging.getLogger("asyncssh").setLevel(logging.WARNING)

    def factory() -> GatewayConnection:
        summary.connections += 1
        return GatewayConnection(gateway)

    acceptor = await asyncssh.listen(
        settings.listen.host or None,
        settings.listen.port,
        server_factory=factory,
        server_host_keys=[key],
        server_version=SERVER_VERSION,
        encryption_algs=CIPHERS,
        encoding=None,
        allow_pty=True,
        line_editor=False,
        agent_forwarding=False,
        x11_forwarding=False,
        login_timeout=settings.login_timeout.seconds,
        keepalive_interval=gateway.keepalive,
        reuse_address=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopper(stop, summary, signum))
    started = datetime.now(UTC)
    instance = instance_name(str(settings.listen))
    beats = asyncio.ensure_future(_heartbeat(gateway, instance, started, info.fingerprint))
    reaper = asyncio.ensure_future(_reap_idle(gateway))
    log.info(
        "gateway: listening on %s, host key %s %s",
        settings.listen,
        info.public_key.split()[0],
        info.fingerprint,
    )
    if on_ready is not None:
        on_ready(str(settings.listen), info.fingerprint)
    try:
        await stop.wait()
    finally:
        gateway.stopping = True
        acceptor.close()
        await _wind_down(gateway)
        for task in (beats, reaper):
            task.cancel()
        await asyncio.gather(beats, reaper, return_exceptions=True)
        await gateway.drain()
        try:
            await gateway.run_sync(gateway.service.heartbeats.stopped, instance)
        except Exception as exc:
            log.warning("gateway: cannot mark the heartbeat stopped: %s", type(exc).__name__)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return summary


def _stopper(stop: asyncio.Event, summary: Summary, signum: int) -> Callable[[], None]:
    def handler() -> None:
        if not stop.is_set():
            log.info("gateway: %s received, stopping", signal.Signals(signum).name)
            summary.stopped_by = signal.Signals(signum).name
        stop.set()

    return handler


async def _wind_down(gateway: Gateway) -> None:
    """Give open sessions the shutdown timeout, then close every connection."""
    registry = gateway.registry
    loop = asyncio.get_running_loop()
    deadline = loop.time() + gateway.settings.shutdown_timeout.seconds
    if registry.sessions:
        log.info(
            "gateway: waiting up to %s for %d session(s)",
            gateway.settings.shutdown_timeout,
            registry.sessions,
        )
    while registry.sessions and loop.time() < deadline:
        await asyncio.sleep(0.05)
    gateway.summary.closed_at_shutdown = registry.sessions
    for conn in list(registry.connections):
        conn.close_with("the gateway is shutting down", grace=1.0)
    wait_until = loop.time() + 5
    while registry.connections and loop.time() < wait_until:
        await asyncio.sleep(0.02)
