"""HSTS only in the strict modes (issue 18.15): a development app whose APP_URL is https must not
send it (a browser would pin https for the host, breaking every later http dev server on it),
while staging and production with an https APP_URL do. Served by a real waitress server on an
ephemeral loopback port, read over a socket."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from waitress import wasyncore
from waitress.server import create_server

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET

HSTS = "max-age=63072000; includeSubDomains"
PUBLIC = "https://ocore.example.com"


@contextmanager
def served(app) -> Iterator[int]:
    """``app`` under waitress on 127.0.0.1 and an ephemeral port; yields the port."""
    server = create_server(app, host="127.0.0.1", port=0, threads=1, asyncore_use_poll=True)
    stop = threading.Event()

    def loop() -> None:  # the loop of ``ocore serve``, stopped by an event instead of a signal
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        stop.set()
        thread.join(timeout=5)


def headers_of(make_app, mode: str, app_url: str) -> dict[str, str]:
    environ = {
        "ENVIRONMENT": mode,
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "APP_URL": app_url,
    }
    with served(make_app(environ, [])) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/api/health")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            return dict(response.getheaders())
        finally:
            connection.close()


def test_development_with_an_https_app_url_sends_no_hsts(make_app) -> None:
    headers = headers_of(make_app, "development", PUBLIC)
    assert "Strict-Transport-Security" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff", "the other headers are still sent"


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_strict_modes_with_an_https_app_url_send_hsts(make_app, mode: str) -> None:
    assert headers_of(make_app, mode, PUBLIC)["Strict-Transport-Security"] == HSTS


def test_strict_mode_with_a_loopback_http_app_url_sends_no_hsts(make_app) -> None:
    headers = headers_of(make_app, "production", "http://localhost:3000")
    assert "Strict-Transport-Security" not in headers
