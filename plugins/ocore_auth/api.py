"""The plugin's API wiring: its error answers, the OpenAPI security schemes and the blueprints
(sessions in ``sessions_api``, passkeys in ``passkeys_api``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.http import HTTP_STATUS_CODES

from ocore_auth.cookies import CSRF_COOKIE
from ocore_auth.errors import AuthError
from ocore_auth.guard import SECURITY_SCHEMES
from ocore_flask.security import READABLE_COOKIES
from ocore_flask.state import get_state


def register(app: Flask) -> None:
    """Answer auth errors as flask-smorest answers errors; document the security schemes."""
    app.register_error_handler(AuthError, _answer)
    readable = set(app.config.get(READABLE_COOKIES, ()))
    app.config[READABLE_COOKIES] = sorted(readable | {CSRF_COOKIE})
    api = get_state(app).api
    if api is not None:
        for name, scheme in SECURITY_SCHEMES.items():
            api.spec.components.security_scheme(name, scheme)


def _answer(error: AuthError) -> Any:
    body = {
        "code": error.status,
        "status": HTTP_STATUS_CODES.get(error.status, "Error"),
        "message": error.message,
    }
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(error.headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def blueprints() -> list[Any]:
    """The ``api_blueprints`` hook: sessions and passkeys."""
    from ocore_auth import passkeys_api, sessions_api

    return [sessions_api.blp, *passkeys_api.blueprints()]
