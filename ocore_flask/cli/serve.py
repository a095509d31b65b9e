"""``ocore serve``: granian or waitress (WSGI_SERVER, ``--server``) on SERVER_HOST:SERVER_PORT,
with graceful shutdown."""

from __future__ import annotations

import os

import click

from ocore_flask.app import close_app
from ocore_flask.cli.app_loading import load_app
from ocore_flask.cli.kit import exit_startup_error
from ocore_flask.serving.ports import PortUnavailable, check_listen_address
from ocore_flask.state import get_state

SERVERS = ("granian", "waitress")


@click.command("serve")
@click.option("--host", default=None, help="Listen address (default SERVER_HOST).")
@click.option("--port", type=int, default=None, help="Listen port (default SERVER_PORT).")
@click.option(
    "--server",
    type=click.Choice(SERVERS, case_sensitive=False),
    default=None,
    help="The WSGI server (default WSGI_SERVER).",
)
def serve_command(host: str | None, port: int | None, server: str | None) -> None:
    """Serve the app until SIGTERM/SIGINT, draining in-flight requests. A busy address exits 69
    with one line before the app (and its database pool) starts; an app that cannot start exits
    78 or 69 before any request is accepted."""
    try:
        check_listen_address(os.environ, host, port)
    except PortUnavailable as exc:
        exit_startup_error(exc)
    app = load_app()
    config = get_state(app).config
    chosen = server or config["WSGI_SERVER"]  # both already lower case
    host = host or config["SERVER_HOST"]
    port = config["SERVER_PORT"] if port is None else port
    try:
        if chosen == "waitress":
            from ocore_flask.serving import waitress_server

            waitress_server.serve(app, config, host=host, port=port)
        else:
            from ocore_flask.serving import granian_server

            granian_server.serve(app, config, host=host, port=port)
    finally:
        close_app(app)
