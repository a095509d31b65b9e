"""gunicorn settings for ocore, loaded by the repository's ``gunicorn.conf.py`` (or
``gunicorn -c python:ocore_flask.serving.gunicorn_config wsgi:app`` from elsewhere).

The configuration is validated here, in the master, before any worker starts: an invalid one
prints the report and exits 78 instead of workers failing to boot in a loop.
"""

from __future__ import annotations

import os
import sys

from ocore_flask.config.loader import resolve
from ocore_flask.discovery import load_plugins
from ocore_flask.errors import EX_CONFIG

_found = load_plugins(os.environ)
_config = resolve(os.environ, _found.settings, _found.cross_rules, _found.problems)
if not _config.report.ok:
    print(_config.report.render_text(), file=sys.stderr, flush=True)  # noqa: T201
    sys.exit(EX_CONFIG)

bind = [f"0.0.0.0:{_config['SERVER_PORT']}"]
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
proc_name = "ocore"
# gunicorn >= 25.1 opens a runtime-control socket in $HOME by default; off unless asked for.
control_socket_disable = True
# Forwarded headers are trusted by the app (ProxyFix for TRUSTED_PROXY_HOPS), not by gunicorn.
forwarded_allow_ips = ""


def worker_exit(server: object, worker: object) -> None:
    """Release the worker's app resources (pool connections, threads) as it exits."""
    # ocore_flask.wsgi is loaded both for `ocore_flask.wsgi:app` and the repository's wsgi.py.
    flask_app = getattr(sys.modules.get("ocore_flask.wsgi"), "app", None)
    if flask_app is not None:
        from ocore_flask.app import close_app

        close_app(flask_app)
