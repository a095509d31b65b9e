"""What granian is handed to serve (in-process): the app's own middleware sending an empty
``Server`` header, or a wrapper doing the same when something wrapped ``app.wsgi_app``."""

from __future__ import annotations

from ocore_flask.middleware import OcoreMiddleware
from ocore_flask.serving.granian_server import without_server_header


def _headers(wsgi, path: str = "/api/health") -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def start_response(status, headers, exc_info=None):
        seen.extend(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "x", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1"}  # fmt: skip
    b"".join(wsgi(environ, start_response))
    return seen


def test_granian_serves_the_middleware_itself_with_an_empty_server(make_app, app_env):
    app = make_app(app_env)
    served = without_server_header(app)
    assert served is app.wsgi_app and isinstance(served, OcoreMiddleware)
    for path in ("/api/health", "/no/such/page"):
        servers = [value for name, value in _headers(served, path) if name.lower() == "server"]
        assert servers == [""], path
    assert without_server_header(app) is served  # a respawned worker: still one header
    assert [n for n, _ in _headers(served)].count("Server") == 1


def test_a_wrapped_app_gets_the_header_from_a_wrapper(make_app, app_env):
    app = make_app(app_env)
    inner = app.wsgi_app
    app.wsgi_app = lambda environ, start_response: inner(environ, start_response)
    served = without_server_header(app)
    assert served is not app.wsgi_app
    assert [v for n, v in _headers(served) if n.lower() == "server"] == [""]
