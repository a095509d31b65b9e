"""The app's flask-smorest ``Api``: JSON errors that keep the protocol headers werkzeug's
exceptions carry (``Allow`` on 405, ``WWW-Authenticate`` on 401, ``Retry-After``…)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from werkzeug.exceptions import HTTPException


class OcoreApi(Api):
    """flask-smorest's Api; its error handler drops those headers, this one keeps them."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, code, headers = super().handle_http_exception(error)
        kept = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return payload, code, {**kept, **headers}
