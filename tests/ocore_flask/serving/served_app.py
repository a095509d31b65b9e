"""The real app plus a test-only plugin with routes the serving tests need (a slow request, a
cookie, a log line carrying a secret), for real waitress and gunicorn processes started from
the repository root:

    gunicorn tests.ocore_flask.serving.served_app:app
    waitress-serve tests.ocore_flask.serving.served_app:app
"""

from __future__ import annotations

import logging
import os
import time

from flask import Blueprint, Flask, jsonify, make_response, request

from ocore_flask.discovery import plugins_of
from ocore_flask.entry import app_or_exit
from ocore_flask.plugin import Plugin

routes = Blueprint("servingtest", __name__, url_prefix="/test")
log = logging.getLogger("servingtest")


@routes.get("/slow")
def slow():
    """Sleep, then answer: for graceful-drain tests."""
    time.sleep(float(request.args.get("seconds", "1")))
    return jsonify(done=True)


@routes.get("/cookie")
def cookie():
    """Set a cookie without any flags: the app must add them."""
    response = make_response(jsonify(ok=True))
    response.headers.add("Set-Cookie", "plain=1; Path=/")
    return response


@routes.get("/leak")
def leak():
    """Log a configured secret and a credential-shaped string: the log must redact both."""
    log.warning(
        "leaking %s and postgres://u:Pl4nted-Pw@db/x", os.environ.get("JWT_SECRET", "missing")
    )
    return jsonify(ok=True)


@routes.get("/client")
def client():
    """What the app believes about the client (for trusted-proxy tests)."""
    return jsonify(
        remote_addr=request.remote_addr,
        scheme=request.scheme,
        host=request.host,
        script_root=request.script_root,
        url_root=request.url_root,
    )


def _init_app(app: Flask, settings: None) -> None:
    app.register_blueprint(routes)


#: Test-only routes.
SERVING_TEST_PLUGIN = Plugin("servingtest", hooks={"init_app": _init_app})

app = app_or_exit(None, [*plugins_of("ocore-flask"), SERVING_TEST_PLUGIN])
