"""gunicorn settings for ocore, loaded by the repository's ``gunicorn.conf.py`` (or
``gunicorn -c python:ocore_flask.serving.gunicorn_config wsgi:app`` from elsewhere).

The configuration is validated here, in the master, before any worker starts: an invalid one
prints the report and exits 78 instead of workers failing to boot in a loop. A worker whose app
cannot start (PostgreSQL unreachable: 69; vault rows under an unknown key: 78) stops the master
with that same status instead of being respawned forever: the worker reports its status through
a pipe and the master's ``child_exit`` hook halts the arbiter (gunicorn's ``HaltServer``, as it
does for its own boot errors).
"""

from __future__ import annotations

import os
import sys

from gunicorn.errors import HaltServer
from gunicorn.http import wsgi as _gunicorn_wsgi

from ocore_flask import entry, logs
from ocore_flask.config.loader import resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.errors import EX_CONFIG, EX_UNAVAILABLE, StartupError
from ocore_flask.serving import host_port

_found = load_plugins(os.environ)
_config = resolve(os.environ, _found.settings, _found.cross_rules, _found.problems)
if not _config.report.ok:
    print(_config.report.render_text(), file=sys.stderr, flush=True)  # noqa: T201
    sys.exit(EX_CONFIG)

bind = [host_port(_config["SERVER_HOST"], _config["SERVER_PORT"])]
workers = _config["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = _config["SERVER_THREADS"]
# SIGTERM: stop accepting, let in-flight requests finish for up to this long, then exit.
graceful_timeout = int(_config["SERVER_SHUTDOWN_GRACE"].seconds)
timeout = 60
keepalive = 5
# The app logs its own requests (with request ids and redaction); no duplicate access log.
accesslog = None
errorlog = "-"
# gunicorn's own lines go through ocore's handler: the same format (LOG_FORMAT), redaction,
# level; or the operator's LOG_CONFIG file, with the redaction added.
loglevel = str(_config["LOG_LEVEL"]).lower()
logconfig_dict = logs.server_config(
    _config["LOG_FORMAT"], loglevel, _config.secret_values(), _config["LOG_CONFIG"]
)
try:  # applied here first: a file dictConfig refuses is a configuration error (78), like others
    logs.apply(logconfig_dict, _config["LOG_CONFIG"])
except StartupError as exc:
    print(exc.render(), file=sys.stderr, flush=True)  # noqa: T201
    sys.exit(exc.exit_code)
proc_name = "ocore"
# gunicorn >= 25.1 opens a runtime-control socket in $HOME by default; off unless asked for.
control_socket_disable = True
# Forwarded headers are trusted by the app (ProxyFix for TRUSTED_PROXY_HOPS), not by gunicorn.
forwarded_allow_ips = ""

STATUS_MEANING = {
    EX_UNAVAILABLE: "a service it needs is unavailable",
    EX_CONFIG: "its configuration or stored data is refused",
}


def _without_server_header() -> None:
    """No ``Server: gunicorn`` (waitress sends none either): nothing to fingerprint."""
    response = _gunicorn_wsgi.Response
    original = response.default_headers
    if getattr(original, "ocore", False):
        return

    def default_headers(self: object) -> list[str]:
        return [line for line in original(self) if not line.startswith("Server:")]

    default_headers.ocore = True  # type: ignore[attr-defined]
    response.default_headers = default_headers  # type: ignore[method-assign]


_without_server_header()

# Workers write their startup-failure status here; the master reads it when one exits.
_failures_read, _failures_write = os.pipe()
os.set_blocking(_failures_read, False)


def worker_exit(server: object, worker: object) -> None:
    """In the worker, as it exits: report a startup failure to the master, or release the
    app's resources (pool connections, threads)."""
    if entry.startup_failure is not None:
        os.write(_failures_write, bytes([entry.startup_failure]))
        return
    # ocore_flask.wsgi is loaded both for `ocore_flask.wsgi:app` and the repository's wsgi.py.
    flask_app = getattr(sys.modules.get("ocore_flask.wsgi"), "app", None)
    if flask_app is not None:
        from ocore_flask.app import close_app

        close_app(flask_app)


def child_exit(server: object, worker: object) -> None:
    """In the master, when a worker has exited: if its app could not start, stop with the
    same status (a supervisor sees 69 or 78) rather than boot another worker into it."""
    try:
        reported = os.read(_failures_read, 64)
    except BlockingIOError:
        return
    if reported:
        status = reported[0]
        meaning = STATUS_MEANING.get(status, "it could not start")
        raise HaltServer(
            f"a worker could not start the app ({meaning}, status {status}); not respawning",
            status,
        )
