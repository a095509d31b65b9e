"""granian (a Rust HTTP server, WSGI interface) with ocore's serving contract.

The app is built in this process first, exactly as waitress would build it: a configuration
error exits 78 and an unreachable PostgreSQL 69 before granian binds anything or starts a
worker. granian then forks its workers with that app (as gunicorn's ``--preload`` does; the
database pool lets go of inherited connections in a child, every other resource is created on
first use). A worker that dies later (killed for memory, say) is replaced; one that dies again
within seconds stops the server. SIGTERM or SIGINT: granian stops accepting, each worker
finishes its in-flight requests within SERVER_SHUTDOWN_GRACE, the process exits 0. SIGHUP
replaces the workers.

granian inserts ``server: granian`` into every response unless the app sends a ``Server``
header of its own, and has no option to omit it (emmett-framework/granian#594); the app's
responses here carry an empty one (nothing to fingerprint). The 400s its HTTP parser writes for
a malformed request carry none; only granian's own 500, for a WSGI callable that raises before
responding (Flask never does), still says ``server: granian``. See the README's decisions.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import multiprocessing.util
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from ocore_flask import logs
from ocore_flask.app import close_app
from ocore_flask.config.loader import Config
from ocore_flask.middleware import OcoreMiddleware
from ocore_flask.serving import host_port

log = logging.getLogger("ocore_flask.serving")


def without_server_header(app: Flask) -> Callable[..., Iterable[bytes]]:
    """The WSGI callable granian serves, sending an empty ``Server`` header so that granian
    adds no ``server: granian`` (it keeps a header the app sets). Normally ocore's middleware
    itself (the factory installs it last), which adds the header at no cost per request; if
    something wrapped ``app.wsgi_app`` since, a small wrapper adds it instead."""
    middleware = app.wsgi_app
    if isinstance(middleware, OcoreMiddleware):
        middleware.add_header("Server", "")
        return middleware

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(name.lower() == "server" for name, _ in headers):
                headers = [*headers, ("Server", "")]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return serve


def worker_app(app: Flask) -> Callable[..., Iterable[bytes]]:
    """In a worker process (forked with the app already built): the WSGI callable to serve;
    the worker's own connections and threads are released when it exits."""
    # multiprocessing runs its finalizers (not atexit's) when a worker process ends.
    multiprocessing.util.Finalize(app, close_app, args=(app,), exitpriority=10)
    return without_server_header(app)


def make_server(config: Config, *, host: str, port: int) -> Any:
    """A granian server (not started) on ``host:port`` with ocore's limits and logging."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    level = str(config["LOG_LEVEL"]).lower()
    server = Server(
        "ocore",  # only granian's own log lines show it; the app comes from target_loader
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,  # behind a TLS proxy; h2c is not worth its attack surface
        websockets=False,  # WSGI has none; saves granian's "ignoring" line at every start
        workers=config["WEB_CONCURRENCY"],
        blocking_threads=config["SERVER_THREADS"],
        backpressure=config["SERVER_CONNECTION_LIMIT"],
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1000, int(config["SERVER_CHANNEL_TIMEOUT"].seconds * 1000))
        ),
        log_enabled=True,
        log_level=LogLevels(level),
        log_dictconfig=logs.server_config(
            config["LOG_FORMAT"], level, config.secret_values(), config.get("LOG_CONFIG")
        ),
        log_access=False,  # the app logs its own requests (request ids, redaction)
        # Workers are forks of an app that has started, so a worker that dies (killed for
        # memory, say) is replaced; one that dies again within seconds stops the server.
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, math.ceil(config["SERVER_SHUTDOWN_GRACE"].seconds)),
    )
    logging.getLogger("_granian").addFilter(_not_the_threads_warning)
    server.on_startup(lambda: log.info("serving on http://%s", host_port(host, port)))
    return server


def _not_the_threads_warning(record: logging.LogRecord) -> bool:
    """Drop granian's start-up warning that SERVER_THREADS exceeds 2 x cores + 1: its advice
    suits CPU-bound apps; ocore's requests wait on PostgreSQL and SSH, and the threads are a
    deliberate setting (README, Serving), not something to warn about at every start."""
    return not str(record.msg).startswith("Configuration allows spawning up to")


def serve(app: Flask, config: Config, *, host: str, port: int) -> None:
    """Serve ``app`` with granian until SIGTERM/SIGINT; returns after the workers have drained.
    The workers are forked from this process with the app built (and checked) here."""
    # The workers inherit the app: fork, whatever the platform's default start method (3.14's
    # forkserver would make granian spawn workers and pickle the app).
    multiprocessing.set_start_method("fork", force=True)
    server = make_server(config, host=host, port=port)
    server.serve(target_loader=functools.partial(worker_app, app), wrap_loader=False)
