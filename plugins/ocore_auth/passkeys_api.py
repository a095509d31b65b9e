"""Passkey endpoints: log in with a passkey (``/api/auth/passkey``) and manage one's own
passkeys (``/api/user/passkeys``).

Each ceremony is two calls. ``…/begin`` answers the options JSON to hand to
``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``parseRequestOptionsFromJSON`` (then
``navigator.credentials.create/get``); ``…/finish`` takes ``{"credential": credential.toJSON()}``.
No ceremony id travels between them: finish finds its challenge in the signed clientDataJSON
(stored server-side, single-use, 5 minutes). Refusals are JSON errors
``{"code", "status", "message"}``; a wrong origin or RP ID names the expected one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import marshmallow as ma
from flask import Response, make_response, request
from flask_smorest import Blueprint

import ocore_auth
from ocore_auth.errors import Throttled
from ocore_auth.guard import current_user, require
from ocore_auth.passkeys import UNKNOWN_PASSKEY, PasskeyError, Passkeys
from ocore_auth.passkeys_store import PasskeyInfo
from ocore_auth.sessions_api import TokensSchema, session_response
from ocore_auth.users import MAX_EMAIL
from ocore_flask.api import printable
from ocore_flask.state import get_state

login_blp = Blueprint(
    "auth_passkey",
    __name__,
    url_prefix="/api/auth/passkey",
    description="Log in with a passkey (WebAuthn): begin, then finish with the assertion.",
)
user_blp = Blueprint(
    "user_passkeys",
    __name__,
    url_prefix="/api/user/passkeys",
    description="The signed-in user's passkeys: list, register (begin/finish), delete.",
)

CREDENTIAL_DOC = (
    "The browser's PublicKeyCredential as JSON (credential.toJSON()): id, rawId, type, "
    "response{clientDataJSON, …}, base64url-encoded."
)


class LoginBeginSchema(ma.Schema):
    """Optionally the account's e-mail (its passkeys are then listed to the browser)."""

    email = ma.fields.String(
        validate=[ma.validate.Length(1, MAX_EMAIL), printable()],
        metadata={"description": "Omit it for a discoverable-credential (username-less) login."},
    )


class LoginFinishSchema(ma.Schema):
    """The assertion."""

    credential = ma.fields.Dict(required=True, metadata={"description": CREDENTIAL_DOC})


class RegisterFinishSchema(ma.Schema):
    """The new credential and the name its owner gives it."""

    credential = ma.fields.Dict(required=True, metadata={"description": CREDENTIAL_DOC})
    name = ma.fields.String(
        required=True,
        validate=[
            ma.validate.Length(1, 64),
            ma.validate.Regexp(r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$", error="a visible name"),
        ],
        metadata={"example": "Laptop"},
    )


RequestOptionsSchema = ma.Schema.from_dict(
    {
        "challenge": ma.fields.String(),
        "timeout": ma.fields.Integer(metadata={"description": "milliseconds"}),
        "rpId": ma.fields.String(),
        "allowCredentials": ma.fields.List(ma.fields.Dict()),
        "userVerification": ma.fields.String(),
    },
    name="PasskeyRequestOptions",
)

CreationOptionsSchema = ma.Schema.from_dict(
    {
        "rp": ma.fields.Dict(),
        "user": ma.fields.Dict(),
        "challenge": ma.fields.String(),
        "pubKeyCredParams": ma.fields.List(ma.fields.Dict()),
        "timeout": ma.fields.Integer(metadata={"description": "milliseconds"}),
        "excludeCredentials": ma.fields.List(ma.fields.Dict()),
        "authenticatorSelection": ma.fields.Dict(),
        "attestation": ma.fields.String(),
    },
    name="PasskeyCreationOptions",
)


class PasskeySchema(ma.Schema):
    """One of the caller's passkeys."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    transports = ma.fields.List(ma.fields.String())
    backed_up = ma.fields.Boolean(metadata={"description": "synced by its provider"})
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)


def blueprints() -> list[Blueprint]:
    """The passkey blueprints (registered through the plugin's ``api_blueprints`` hook)."""
    return [login_blp, user_blp]


def ceremonies() -> Passkeys:
    """The passkey ceremonies of the current app's relying party."""
    service = ocore_auth.auth()
    secret = get_state().config.plain("JWT_SECRET") or ""
    return Passkeys(
        engine=service.engine,
        rp_id=service.settings.webauthn_rp_id,
        origin=service.settings.webauthn_origin.lower(),
        decoy_key=hmac.new(secret.encode(), b"ocore passkey decoys", hashlib.sha256).digest(),
    )


# -- logging in ----------------------------------------------------------------------------


@login_blp.route("/login/begin", methods=["POST"])
@login_blp.arguments(LoginBeginSchema)
@login_blp.response(200, RequestOptionsSchema)
def login_begin(args: dict[str, Any]) -> dict[str, Any]:
    """Start a passkey login: options for navigator.credentials.get()."""
    _not_throttled()
    return ceremonies().authentication_options(args.get("email"))


def _not_throttled() -> None:
    """Passkey logins share the client address's failed-login budget with password logins."""
    wait = ocore_auth.auth().throttle.retry_after(None, request.remote_addr)
    if wait:
        raise Throttled(wait)


@login_blp.route("/login/finish", methods=["POST"])
@login_blp.arguments(LoginFinishSchema)
@login_blp.response(200, TokensSchema)
@login_blp.alt_response(400, description="Malformed, stale challenge, wrong origin or RP ID.")
@login_blp.alt_response(
    401, description="Unknown passkey, bad signature, counter regression, or a disabled account."
)
def login_finish(args: dict[str, Any]) -> Response:
    """Finish a passkey login: the same tokens and cookies as a password login."""
    service = ocore_auth.auth()
    _not_throttled()
    try:
        user = service.users.get(ceremonies().authenticate(args["credential"]))
        if user is None:
            raise PasskeyError(UNKNOWN_PASSKEY, 401)
    except PasskeyError as exc:
        if exc.status == 401:
            service.throttle.failed(None, request.remote_addr)
        raise
    tokens = service.sign_in(user)
    service.users.logged_in(user.id)
    return session_response(tokens)


# -- the caller's own passkeys -------------------------------------------------------------


@user_blp.route("", methods=["GET"])
@require()
@user_blp.response(200, PasskeySchema(many=True))
def list_passkeys() -> list[PasskeyInfo]:
    """The caller's passkeys (never their keys)."""
    return ceremonies().owned(current_user().user_id)


@user_blp.route("/register/begin", methods=["POST"])
@require()
@user_blp.response(200, CreationOptionsSchema)
@user_blp.alt_response(409, description="Already at the per-account passkey limit.")
def register_begin() -> dict[str, Any]:
    """Start registering a passkey: options for navigator.credentials.create()."""
    return ceremonies().registration_options(current_user().user_id)


@user_blp.route("/register/finish", methods=["POST"])
@require()
@user_blp.arguments(RegisterFinishSchema)
@user_blp.response(201, PasskeySchema)
@user_blp.alt_response(400, description="Malformed, stale challenge, wrong origin or RP ID.")
@user_blp.alt_response(409, description="This passkey is already registered.")
def register_finish(args: dict[str, Any]) -> PasskeyInfo:
    """Finish registering: verify the new credential and store it under ``name``."""
    return ceremonies().register(current_user().user_id, args["credential"], args["name"].strip())


@user_blp.route("/<int:passkey_id>", methods=["DELETE"])
@require()
@user_blp.response(204)
@user_blp.alt_response(404, description="The caller has no passkey with this id.")
def delete_passkey(passkey_id: int) -> Response:
    """Delete one of the caller's passkeys."""
    ceremonies().delete(current_user().user_id, passkey_id)
    return make_response("", 204)
