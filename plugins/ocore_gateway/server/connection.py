"""One client connection to the gateway: public-key authentication, the login decision, the
session limits, the one backend connection its sessions share, and every refusal of
forwarding (TCP, stream-local, agent, X11, tun/tap).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import asyncssh

from ocore_gateway.server.backend import BackendError, connect
from ocore_gateway.server.logins import Login, shown
from ocore_gateway.server.proxy import FrontSession

if TYPE_CHECKING:
    from ocore_gateway.server.runner import Gateway

log = logging.getLogger("ocore_gateway")

NO_FORWARDING = "ocore gateway: port forwarding is not allowed"


class GatewayConnection(asyncssh.SSHServer):
    """asyncssh's per-connection server object."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.conn: Any = None
        self.peer = "?"
        self.username = ""
        self.login: Login | None = None
        self.failures = 0
        self.banner_sent = False
        self.last_activity = asyncio.get_running_loop().time()
        self.sessions: set[FrontSession] = set()
        self._backend: asyncio.Future[Any] | None = None
        self._backend_conn: Any = None

    def __repr__(self) -> str:
        who = self.login.email if self.login else "?"
        return f"<GatewayConnection {who}@{self.peer} -> {self.username!r}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def connection_made(self, conn: Any) -> None:
        self.conn = conn
        host, port = (conn.get_extra_info("peername") or ("?", 0))[:2]
        self.peer = f"{host}:{port}"
        self.gateway.registry.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway.registry.connections.discard(self)
        if exc is not None and self.login is None:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.info("gateway: connection from %s ended before login: %s", self.peer, reason)
        if self._backend_conn is not None:
            self._backend_conn.close()
        elif self._backend is not None and not self._backend.done():
            self._backend.cancel()

    def touch(self) -> None:
        """Data went through: the connection is not idle."""
        self.last_activity = asyncio.get_running_loop().time()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task the gateway waits for at shutdown."""
        self.gateway.spawn(coro)

    def disconnect(self, reason: str, code: int = asyncssh.DISC_BY_APPLICATION) -> None:
        """Close the connection, telling the client why (OpenSSH prints the reason)."""
        if self.conn is not None:
            self.conn.disconnect(code, reason)

    def close_with(self, message: str, grace: float = 2.0) -> None:
        """End every session with ``message`` on its stderr, so the client closes the
        connection itself; connections without sessions (or slow to close) are disconnected."""
        sessions = list(self.sessions)
        for session in sessions:
            session.end(message)
        if not sessions:
            self.disconnect(f"ocore gateway: {message}")
            return
        loop = asyncio.get_running_loop()
        loop.call_later(grace, self.disconnect, f"ocore gateway: {message}")

    # -- authentication ----------------------------------------------------------------------

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True  # always authenticate; the user name is judged with the key

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        try:
            login = await self.gateway.authorize(username, fingerprint)
        except Exception:
            log.exception("gateway: looking up key %s failed", fingerprint)
            login = None
        if login is not None:
            self.login = login
            return True
        self.failures += 1
        log.info(
            "gateway: refused key %s from %s for %s: not registered",
            fingerprint,
            self.peer,
            shown(username),
        )
        if not self.banner_sent:
            self.banner_sent = True
            self.conn.send_auth_banner(
                f"ocore gateway: the key {fingerprint} is not registered; register its .pub "
                "line (ocore gateway keys add EMAIL FILE, or POST /api/user/ssh-keys)\r\n"
            )
        if self.failures >= self.gateway.settings.max_auth_tries:
            log.warning("gateway: %s: too many authentication failures", self.peer)
            asyncio.get_running_loop().call_soon(
                self.disconnect,
                "ocore gateway: too many authentication failures",
                asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
            )
        return False

    def auth_completed(self) -> None:
        login = self.login
        assert login is not None
        if login.refusal:
            log.warning(
                "gateway: login refused: %s (key %s) from %s to %s: %s",
                login.email,
                login.key_fingerprint,
                self.peer,
                shown(login.target),
                login.refusal,
            )
            self.disconnect(f"ocore gateway: {login.refusal}", asyncssh.DISC_ILLEGAL_USER_NAME)
            return
        log.info(
            "gateway: login: %s (%s, key %s) from %s to %s",
            login.email,
            login.role,
            login.key_fingerprint,
            self.peer,
            login.target,
        )
        self.spawn(self.gateway.run_sync(self.gateway.service.keys.touch, login.key_id))

    # -- sessions ----------------------------------------------------------------------------

    def session_requested(self) -> FrontSession:
        login = self.login
        if login is None or login.refusal or self.gateway.stopping:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "ocore gateway: session refused"
            )
        refusal = self.gateway.registry.reserve(login)
        if refusal:
            log.warning(
                "gateway: session of %s to %s refused: %s", login.email, login.target, refusal
            )
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, f"ocore gateway: {refusal}"
            )
        session = FrontSession(self)
        self.sessions.add(session)
        return session

    async def audit_open(self, session: FrontSession) -> int:
        """Start the session's audit row."""
        login = self.login
        assert login is not None
        log.info(
            "gateway: session: %s to %s: %s %s",
            login.email,
            login.target,
            session.kind,
            shown(session.command or ""),
        )
        return await self.gateway.run_sync(
            lambda: self.gateway.service.audit.open(
                user_id=login.user_id,
                user_email=login.email,
                key_fingerprint=login.key_fingerprint,
                target=login.target,
                client_address=self.peer,
                kind=session.kind,
                command=session.command,
            )
        )

    def session_ended(self, session: FrontSession) -> None:
        """Release the session's slot and close its audit row."""
        assert self.login is not None
        self.sessions.discard(session)
        self.gateway.registry.release(self.login)
        self.gateway.session_ended(session)

    async def backend(self) -> Any:
        """The connection to the target server, opened by the first session, shared after."""
        if self._backend is None or (self._backend.done() and self._backend_conn is None):
            self._backend = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._backend)

    async def _connect(self) -> Any:
        login = self.login
        assert login is not None
        try:
            target = await self.gateway.run_sync(self.gateway.targets.resolve, login.target)
            conn = await connect(
                target,
                timeout=self.gateway.connect_timeout,
                keepalive=self.gateway.keepalive,
                on_lost=self._backend_lost,
            )
        except BackendError:
            self._backend_conn = None
            raise
        self._backend_conn = conn
        return conn

    def _backend_lost(self) -> None:
        self._backend_conn = None

    # -- forwarding: all refused -------------------------------------------------------------

    def _refuse_forwarding(self, what: str) -> None:
        who = self.login.email if self.login else "?"
        log.warning("gateway: refused %s for %s from %s", what, who, self.peer)

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> Any:
        self._refuse_forwarding(f"local port forwarding to {shown(dest_host)}:{dest_port}")
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, NO_FORWARDING)

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        self._refuse_forwarding(f"remote port forwarding from port {listen_port}")
        return False

    def unix_connection_requested(self, dest_path: str) -> Any:
        self._refuse_forwarding("stream-local forwarding")
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, NO_FORWARDING)

    def unix_server_requested(self, listen_path: str) -> bool:
        self._refuse_forwarding("remote stream-local forwarding")
        return False

    def tun_requested(self, unit: int | None) -> Any:
        self._refuse_forwarding("tun forwarding")
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, NO_FORWARDING)

    def tap_requested(self, unit: int | None) -> Any:
        self._refuse_forwarding("tap forwarding")
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, NO_FORWARDING)
