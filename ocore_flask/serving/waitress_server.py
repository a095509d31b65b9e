"""waitress with ocore's limits and a graceful SIGTERM: stop accepting, let in-flight requests
finish within the grace period, close the connections, return (the caller closes the app)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from flask import Flask
from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from ocore_flask.config.loader import Config
from ocore_flask.serving import host_port

log = logging.getLogger("ocore_flask.serving")
POLL_SECONDS = 0.2


def make_server(app: Flask, config: Config, *, host: str | None = None, port: int | None = None):
    """A waitress server bound to ``host:port`` (default SERVER_HOST:SERVER_PORT)."""
    return create_server(
        app,
        host=host or config["SERVER_HOST"],
        port=config["SERVER_PORT"] if port is None else port,
        threads=config["SERVER_THREADS"],
        connection_limit=config["SERVER_CONNECTION_LIMIT"],
        channel_timeout=max(1, int(config["SERVER_CHANNEL_TIMEOUT"].seconds)),
        # waitress only looks for timed-out channels every cleanup_interval (default 30s).
        cleanup_interval=max(1, min(30, int(config["SERVER_CHANNEL_TIMEOUT"].seconds) // 2)),
        ident="",  # no Server header: nothing to fingerprint
        expose_tracebacks=False,
        asyncore_use_poll=True,
        # Forwarded headers are the app's business (ProxyFix, TRUSTED_PROXY_HOPS), under
        # waitress and gunicorn alike; waitress must pass them through untouched.
        clear_untrusted_proxy_headers=False,
    )


def serve(
    app: Flask,
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then drain in-flight requests and return; the "serving
    on" line is logged (``on_ready`` is for callers that print more, like ``ocore dev``)."""
    server = make_server(app, config, host=host, port=port)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: draining requests", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # Through the logger, so it has the configured format (a JSON line under LOG_FORMAT=json).
        log.info("serving on http://%s", host_port(server.effective_host, server.effective_port))
        if on_ready is not None:
            on_ready(server.effective_host, server.effective_port)
        while not stop.is_set():
            wasyncore.loop(timeout=POLL_SECONDS, map=server._map, use_poll=True, count=1)
        _drain(server, config["SERVER_SHUTDOWN_GRACE"].seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drain(server: BaseWSGIServer, grace: float) -> None:
    """Stop listening, finish what is in flight (bounded by ``grace``), then close everything."""
    wasyncore.dispatcher.close(server)  # the listening socket only; the trigger stays
    deadline = time.monotonic() + grace
    while _busy(server) and time.monotonic() < deadline:
        wasyncore.loop(timeout=POLL_SECONDS, map=server._map, use_poll=True, count=1)
    if _busy(server):
        log.warning("shutdown grace of %.0fs over; closing connections still in use", grace)
    wasyncore.close_all(server._map)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)


def _busy(server: BaseWSGIServer) -> bool:
    dispatcher = server.task_dispatcher
    if dispatcher.active_count or dispatcher.queue:
        return True
    return any(
        isinstance(ch, HTTPChannel) and (ch.requests or ch.total_outbufs_len)
        for ch in list(server._map.values())
    )
