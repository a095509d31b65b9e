"""Sockets for SMTP failure tests: a listener that never speaks, a port that refuses."""

from __future__ import annotations

import socket
from typing import Self

LOOPBACK = "127.0.0.1"
SERVER_NAME = "localhost"  # greeting name; skips aiosmtpd's socket.getfqdn() (a DNS lookup)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` can be bound now (e.g. 465, only as root and if unused)."""
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


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
