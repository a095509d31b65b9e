"""Is the listen address free? ``ocore serve`` and ``ocore dev`` ask before anything starts, so
a busy port is one line and exit 69, with no PostgreSQL started and no migration run for it."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from ocore_flask import settings as host_settings
from ocore_flask.config.loader import resolve
from ocore_flask.errors import EX_UNAVAILABLE, StartupError

__all__ = ["PortUnavailable", "check_listen_address", "listen_address", "port_in_use"]


class PortUnavailable(StartupError):
    """The server's listen address is taken (or not ours to bind): exit 69, nothing started."""

    exit_code = EX_UNAVAILABLE


def port_in_use(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listen_address(
    environ: Mapping[str, str], host: str | None = None, port: int | None = None
) -> tuple[str, int] | None:
    """``host:port`` as the server will bind it (options over SERVER_HOST/SERVER_PORT and their
    per-mode defaults), or None when those settings are invalid (the config report names them)."""
    config = resolve(environ, host_settings.SETTINGS)
    host = host or config.plain("SERVER_HOST")
    port = config.plain("SERVER_PORT") if port is None else port
    if not host or port is None:
        return None
    return host, int(port)


def _bind_error(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` would give now (as waitress binds: SO_REUSEADDR)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None  # unresolvable: the server's own error says so
    for family, kind, proto, _, sockaddr in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                return exc
    return None


def check_listen_address(
    environ: Mapping[str, str], host: str | None = None, port: int | None = None
) -> None:
    """Raise ``PortUnavailable`` (one line, exit 69) when the server could not bind its address."""
    address = listen_address(environ, host, port)
    if address is None:
        return
    host, port = address
    error = _bind_error(host, port)
    if error is None:
        return
    if error.errno == errno.EADDRINUSE:
        why = "the address is already in use (another ocore dev or server?)"
    elif error.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    else:
        why = error.strerror or str(error)
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    raise PortUnavailable(
        f"ocore: cannot listen on {shown} (SERVER_HOST:SERVER_PORT): {why}; pick another port "
        f"with --port N or SERVER_PORT=N"
    )
