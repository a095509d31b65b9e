"""``/api/user/ssh-keys``: the signed-in user's SSH public keys for the gateway.

``GET`` lists them, ``POST {"public_key": "ssh-ed25519 AAAA… comment"}`` registers one (201,
with a ``warning`` for an RSA key under 4096 bits), ``DELETE /<id>`` removes one of the caller's
own. Refusals are JSON errors ``{"code", "status", "message"}``: 422 for a key that is not
acceptable, 409 for a key registered already (by anyone), 404 for another user's key id.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import marshmallow as ma
from flask import Response, make_response
from flask_smorest import Blueprint, abort

import ocore_gateway
from ocore_auth import current_user, require
from ocore_gateway.errors import GatewayError
from ocore_gateway.pubkeys import MAX_TEXT

blp = Blueprint(
    "user_ssh_keys",
    __name__,
    url_prefix="/api/user/ssh-keys",
    description="The signed-in user's SSH public keys, for logging in through the SSH gateway.",
)


class NewKeySchema(ma.Schema):
    """One OpenSSH public key line."""

    public_key = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, MAX_TEXT),
        metadata={"example": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… alice@laptop"},
    )


class KeySchema(ma.Schema):
    """A registered key (its public half only)."""

    id = ma.fields.Integer()
    algorithm = ma.fields.String(metadata={"example": "ssh-ed25519"})
    public_key = ma.fields.String()
    fingerprint = ma.fields.String(
        metadata={"example": "SHA256:…", "description": "as ssh-keygen -l"}
    )
    bits = ma.fields.Integer()
    comment = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)


class AddedKeySchema(KeySchema):
    """The key just registered, with advice for a weaker one."""

    warning = ma.fields.String(allow_none=True)


def blueprints() -> list[Blueprint]:
    """The ``api_blueprints`` hook."""
    return [blp]


def _refuse(exc: GatewayError) -> None:
    abort(exc.status, message=exc.message)


@blp.route("", methods=["GET"])
@require()
@blp.response(200, KeySchema(many=True))
def list_keys() -> list[dict[str, Any]]:
    """The caller's SSH keys, oldest first."""
    return [asdict(key) for key in ocore_gateway.gateway().keys.list(current_user().user_id)]


@blp.route("", methods=["POST"])
@require()
@blp.arguments(NewKeySchema)
@blp.response(201, AddedKeySchema)
@blp.alt_response(409, description="This key is registered already.")
@blp.alt_response(422, description="Not an acceptable public key (type, size, damaged…).")
def add_key(args: dict[str, Any]) -> dict[str, Any]:
    """Register an SSH public key for the caller: ed25519, ecdsa nistp256/384, RSA ≥ 2048."""
    try:
        added = ocore_gateway.gateway().add_key(current_user().user_id, args["public_key"])
    except GatewayError as exc:
        _refuse(exc)
    return {**asdict(added.key), "warning": added.warning}


@blp.route("/<int:key_id>", methods=["DELETE"])
@require()
@blp.response(204)
@blp.alt_response(404, description="The caller has no SSH key with this id.")
def delete_key(key_id: int) -> Response:
    """Remove one of the caller's SSH keys; open gateway sessions are not cut."""
    try:
        ocore_gateway.gateway().keys.remove(key_id, current_user().user_id)
    except GatewayError as exc:
        _refuse(exc)
    return make_response("", 204)
