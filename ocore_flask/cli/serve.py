"""``ocore serve``: waitress on SERVER_HOST:SERVER_PORT with graceful shutdown."""

from __future__ import annotations

import os

import click

from ocore_flask.app import close_app
from ocore_flask.cli.app_loading import load_app
from ocore_flask.cli.kit import exit_startup_error
from ocore_flask.serving.ports import PortUnavailable, check_listen_address
from ocore_flask.serving.waitress_server import serve
from ocore_flask.state import get_state


@click.command("serve")
@click.option("--host", default=None, help="Listen address (default SERVER_HOST).")
@click.option("--port", type=int, default=None, help="Listen port (default SERVER_PORT).")
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the app with waitress until SIGTERM/SIGINT, draining in-flight requests.
    A busy address exits 69 with one line before the app (and its database pool) starts."""
    try:
        check_listen_address(os.environ, host, port)
    except PortUnavailable as exc:
        exit_startup_error(exc)
    app = load_app()
    try:
        serve(app, get_state(app).config, host=host, port=port)
    finally:
        close_app(app)
