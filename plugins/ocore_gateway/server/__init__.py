"""The gateway's SSH server (asyncssh): loaded only by ``ocore gateway``, never by the web app.

``run_gateway(app)`` serves until SIGTERM or SIGINT and returns a ``Summary``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from flask import Flask

import ocore_gateway
import ocore_ssh
from ocore_gateway.server.runner import Gateway, Summary, serve

__all__ = ["Summary", "run_gateway"]


def run_gateway(app: Flask, on_ready: Callable[[str, str], None] | None = None) -> Summary:
    """Serve the gateway of ``app`` until stopped; backend logins use the SSH plugin's
    connect timeout and keepalive (SSH_CONNECT_TIMEOUT, SSH_KEEPALIVE)."""
    pool = ocore_ssh.ssh(app).pool
    gateway = Gateway(
        ocore_gateway.gateway(app),
        connect_timeout=float(pool.connect_timeout),
        keepalive=float(pool.keepalive),
    )
    try:
        return asyncio.run(serve(gateway, on_ready))
    finally:
        gateway.close()
