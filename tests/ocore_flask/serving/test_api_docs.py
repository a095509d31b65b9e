"""``/api/docs`` on a real server: Swagger UI from the installed package's files (no CDN), a CSP
for that page only; the OpenAPI responses come from flask-smorest's decorators."""

from __future__ import annotations

import re
from pathlib import Path

import flask_swagger_ui

from ocore_flask.health import views
from ocore_flask.security import API_CSP
from ocore_flask.testing import ServerProcess, free_port
from tests.ocore_flask.serving.servers import get, serve_argv, serving_env

SHIPPED = Path(flask_swagger_ui.__file__).parent / "dist"


def test_docs_page_loads_local_assets_under_its_own_csp(database_url):
    port = free_port()
    with ServerProcess(serve_argv("waitress", port), serving_env(database_url, "production"), port):
        status, headers, body = get(port, "/api/docs")
        html = body.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "connect-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
        assert "script-src 'self' 'unsafe-inline'" not in csp
        assert "http" not in html and "//" not in html, "no external URL in the page"
        assert not re.search(r"<script>|<script [^>]*>[^<]", html), "no inline script"
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(urls) == 3 and all(url.startswith("/api/docs/") for url in urls)
        assert 'data-spec-url="/api/openapi.json"' in html
        for url in urls:
            status, _, asset = get(port, url)
            assert status == 200 and asset, url
            name = url.rsplit("/", 1)[1]
            if name != "init.js":
                assert asset == (SHIPPED / name).read_bytes(), f"{name} is the shipped file"
        assert get(port, "/api/docs/../../setup.py")[0] == 404
        assert get(port, "/api/docs/oauth2-redirect.html")[0] == 404
        status, headers, _ = get(port, "/api/openapi.json")
        assert status == 200 and headers["Content-Security-Policy"] == API_CSP
        assert get(port, "/api/health")[1]["Content-Security-Policy"] == API_CSP


def test_health_responses_are_documented_by_flask_smorest_decorators():
    documented = views.health._apidoc
    assert "responses" not in documented.get("manual_doc", {}), "no hand-written responses"
    assert set(documented["response"]["responses"]) == {200, 401, 503}
