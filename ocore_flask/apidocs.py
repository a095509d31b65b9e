"""``GET /api/docs``: Swagger UI for ``/api/openapi.json``, from the assets the
``flask-swagger-ui`` package ships (never a CDN). The page has no inline script (a small
``init.js`` starts the UI), and its own Content-Security-Policy allows just what it loads; every
other response keeps the API's ``default-src 'none'``."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Flask, Response, abort, send_from_directory, url_for

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
SHIPPED = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
# Swagger UI applies inline styles and draws its icons as data: SVGs; it fetches the document
# (and "Try it out" calls) from this origin only. No inline or foreign script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
INIT_JS = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
"""
PAGE = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ocore API</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec}"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

blp = Blueprint("apidocs", __name__, url_prefix="/api/docs")


@blp.get("")
def page() -> Response:
    """The interactive documentation page."""
    html = PAGE.format(
        css=url_for("apidocs.asset", name="swagger-ui.css"),
        spec=url_for("api-docs.openapi_json"),
        bundle=url_for("apidocs.asset", name="swagger-ui-bundle.js"),
        init=url_for("apidocs.init"),
    )
    headers = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}
    return Response(html, 200, headers, mimetype="text/html")


@blp.get("/init.js")
def init() -> Response:
    """Starts Swagger UI on the page (a file, so the page needs no inline script)."""
    return Response(INIT_JS, 200, {"Cache-Control": "no-cache"}, mimetype="text/javascript")


@blp.get("/<name>")
def asset(name: str) -> Response:
    """One of Swagger UI's shipped files."""
    if name not in SHIPPED:
        abort(404)
    return send_from_directory(ASSETS, name, max_age=3600)


def init_app(app: Flask) -> None:
    """Serve the documentation page and its assets."""
    app.register_blueprint(blp)
