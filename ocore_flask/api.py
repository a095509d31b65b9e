"""The app's flask-smorest ``Api``: JSON errors that keep the protocol headers werkzeug's
exceptions carry (``Allow`` on 405, ``WWW-Authenticate`` on 401, ``Retry-After``…), and the
interactive documentation page; ``printable``, the rule every free-text request field needs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ocore_flask import apidocs


class OcoreApi(Api):
    """flask-smorest's Api (``/api/openapi.json``) plus the interactive page at ``/api/docs``;
    flask-smorest's error handler drops those headers, this one keeps them."""

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        """flask-smorest's setup, then the documentation page."""
        super().init_app(app, spec_kwargs=spec_kwargs)
        apidocs.init_app(app)

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, code, headers = super().handle_http_exception(error)
        kept = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return payload, code, {**kept, **(headers or {})}  # webargs passes headers=None


def printable() -> ma.validate.Validator:
    """A string without control characters: PostgreSQL text cannot hold NUL (a query with one
    fails as a 500), and a log line should not carry the others. For any request field that
    reaches SQL or a log."""
    return ma.validate.Regexp(r"^[^\x00-\x1f\x7f]*\Z", error="must not contain control characters")
