"""``/api/auth``: log in, refresh, log out, who am I.

Tokens come back in the JSON body (``access_token``, ``refresh_token``, ``token_type``,
``expires_in``) and as cookies for browsers (see ``cookies``). A refresh token is taken from the
body, else from its cookie (then with the CSRF header, as every cookie-authenticated POST).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify, make_response, request
from flask_smorest import Blueprint

import ocore_auth
from ocore_auth.cookies import (
    REFRESH_COOKIE,
    check_csrf,
    clear_session_cookies,
    set_session_cookies,
)
from ocore_auth.errors import Unauthenticated
from ocore_auth.guard import current_user, require
from ocore_auth.passwords import MAX_LENGTH
from ocore_auth.tokens import Tokens
from ocore_auth.users import MAX_EMAIL
from ocore_flask.api import printable

blp = Blueprint(
    "auth", __name__, url_prefix="/api/auth", description="Sessions: log in, refresh, log out."
)


class LoginSchema(ma.Schema):
    """E-mail and password (both bounded before any work is done)."""

    email = ma.fields.String(
        required=True, validate=[ma.validate.Length(1, MAX_EMAIL), printable()]
    )
    password = ma.fields.String(required=True, validate=ma.validate.Length(1, MAX_LENGTH))


class RefreshSchema(ma.Schema):
    """The refresh token (optional when the refresh cookie is sent)."""

    refresh_token = ma.fields.String(validate=ma.validate.Length(1, 128))


class TokensSchema(ma.Schema):
    """A session's tokens, OAuth 2 style."""

    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class MeSchema(ma.Schema):
    """The caller."""

    id = ma.fields.Integer()
    email = ma.fields.String()
    role = ma.fields.String()
    expires_at = ma.fields.DateTime(metadata={"description": "when the presented token expires"})


def session_response(tokens: Tokens) -> Response:
    """The answer to a successful login or refresh: the tokens as JSON and as cookies."""
    response = make_response(jsonify(tokens.body()))
    response.headers["Cache-Control"] = "no-store"
    set_session_cookies(response, tokens, secure=ocore_auth.auth().secure_cookies)
    return response


def _refresh_token(args: dict[str, Any]) -> str | None:
    if args.get("refresh_token"):
        return args["refresh_token"]
    cookie = request.cookies.get(REFRESH_COOKIE)
    if cookie:
        check_csrf(request)
    return cookie


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong e-mail address or password, or a disabled account.")
@blp.alt_response(429, description="Too many failed logins; see Retry-After.")
def login(args: dict[str, Any]) -> Response:
    """Log in with e-mail and password."""
    tokens = ocore_auth.auth().login(args["email"], args["password"], request.remote_addr)
    return session_response(tokens)


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Unknown, expired, revoked or reused refresh token.")
def refresh(args: dict[str, Any]) -> Response:
    """Trade a refresh token for new tokens; the presented one stops working."""
    token = _refresh_token(args)
    if not token:
        raise Unauthenticated("send refresh_token in the body or the refresh cookie", error=None)
    return session_response(ocore_auth.auth().refresh(token))


@blp.route("/logout", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(204)
def logout(args: dict[str, Any]) -> Response:
    """End the session of a refresh token (every token of its family) and clear the cookies."""
    ocore_auth.auth().logout(_refresh_token(args))
    response = make_response("", 204)
    clear_session_cookies(response, secure=ocore_auth.auth().secure_cookies)
    return response


@blp.route("/me", methods=["GET"])
@require()
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """Who the access token belongs to, and when it expires."""
    user = current_user()
    return {
        "id": user.user_id,
        "email": user.email,
        "role": user.role,
        "expires_at": user.expires_at,
    }
