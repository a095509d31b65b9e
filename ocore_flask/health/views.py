"""``GET``/``HEAD /api/health``: anonymous liveness (no I/O), rich view behind a bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from ocore_flask.health.schemas import HealthSchema, UnauthorizedSchema
from ocore_flask.state import get_state

blp = Blueprint(
    "health",
    __name__,
    url_prefix="/api",
    description="Liveness for load balancers; the rich view for operators with the token.",
)

JSON = "application/json"
ANONYMOUS_BODY = b'{"status":"ok"}'
UNAUTHORIZED_BODY = b'{"error":"unauthorized"}'
NO_STORE = {"Cache-Control": "no-store"}


class LivenessFastPath:
    """WSGI: an anonymous ``GET``/``HEAD /api/health`` is answered before Flask dispatches it:
    liveness does no I/O and needs nothing from a request context, so load-balancer polling
    costs as little as possible. Anything else (a token, another method) reaches the view."""

    HEADERS = [
        ("Content-Type", JSON),
        ("Content-Length", str(len(ANONYMOUS_BODY))),
        ("Cache-Control", "no-store"),
    ]

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD")
        if (
            environ.get("PATH_INFO") == "/api/health"
            and (method == "GET" or method == "HEAD")
            and "HTTP_AUTHORIZATION" not in environ
        ):
            start_response("200 OK", list(self.HEADERS))
            return [] if method == "HEAD" else [ANONYMOUS_BODY]
        return self.app(environ, start_response)


def bearer_token(header: str | None) -> str | None:
    """The presented bearer token, "" for an empty one, or None when the request is anonymous
    (no header, or another scheme)."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def _no_automatic_options(view):
    """OPTIONS gets 405 like every other method but GET/HEAD (flask-smorest drops the flag)."""
    view.provide_automatic_options = False
    return view


@blp.route("/health", methods=["GET"])
@_no_automatic_options
@blp.doc(security=[{}, {"healthToken": []}])
@blp.response(
    200,
    HealthSchema,
    description='Anonymous: exactly {"status":"ok"}. With `Authorization: Bearer '
    "<HEALTH_CHECK_TOKEN>`: the rich payload.",
)
@blp.alt_response(
    401,
    schema=UnauthorizedSchema,
    description="Wrong or empty bearer token, or a bearer token while none is configured "
    "(WWW-Authenticate: Bearer).",
)
@blp.alt_response(503, schema=HealthSchema, description="Rich view: a critical check failed.")
def health() -> Response:
    """Liveness, or the rich health payload for a valid bearer token."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return Response(ANONYMOUS_BODY, 200, NO_STORE, mimetype=JSON)
    service = get_state().health
    if not service.tokens.accepts(token):
        headers = {**NO_STORE, "WWW-Authenticate": "Bearer"}
        return Response(UNAUTHORIZED_BODY, 401, headers, mimetype=JSON)
    payload, status = service.rich()
    return Response(json.dumps(payload), status, NO_STORE, mimetype=JSON)
