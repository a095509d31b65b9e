"""``/api/agents``: the agents' push endpoint, and the admins' registration and token actions.

``POST /api/agents/push`` (``Authorization: Bearer oca_…``), checked in this order, each
before any database work except the last:

1. a missing or malformed token (a user's JWT included): 401 with ``WWW-Authenticate``;
2. ``Content-Length`` above ``AGENT_PUSH_MAX_BYTES``: 413 (the body is then not read); a body
   without ``Content-Length`` (chunked) is cut off at the limit as it is read, also 413;
3. not ``application/json``: 415; not parseable JSON: 400;
4. the schema (``payload``): 422 naming each bad or unknown field;
5. ONE statement: 204 with ``X-Agent-Interval`` (seconds, AGENT_PUSH_INTERVAL); 401 for an
   unknown, revoked or expired token; 429 with ``Retry-After`` when faster than
   ``AGENT_PUSH_MIN_INTERVAL``.

So a bad body is answered 4xx whatever the token; nothing is stored unless every check passed.
No token is ever logged or echoed.
"""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import Flask, Response, request
from flask_smorest import Blueprint, abort

import ocore_agents
from ocore_agents.errors import AgentError
from ocore_agents.payload import PushSchema, load_push
from ocore_agents.tokens import PREFIX, well_formed
from ocore_auth import require
from ocore_flask.api import printable
from ocore_flask.state import get_state

INTERVAL_HEADER = "X-Agent-Interval"
CHALLENGE = 'Bearer realm="ocore-agents", error="invalid_token"'
AGENT_SCHEME = "agentToken"
NO_STORE = {"Cache-Control": "no-store"}

blp = Blueprint(
    "agents",
    __name__,
    url_prefix="/api/agents",
    description="Agents on managed servers: status pushes; registration and tokens (admins).",
)


def register(app: Flask) -> None:
    """Document the agent token as a security scheme of the OpenAPI document."""
    api = get_state(app).api
    if api is not None:
        api.spec.components.security_scheme(
            AGENT_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "description": f"An agent token ({PREFIX}…) from `ocore agents add SERVER`.",
            },
        )


def blueprints() -> list[Blueprint]:
    """The ``api_blueprints`` hook."""
    return [blp]


# -- the push ---------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _unauthorized() -> None:
    abort(
        401,
        message=f"send an agent token: Authorization: Bearer {PREFIX}… (unknown, revoked or "
        "expired tokens are refused)",
        headers={"WWW-Authenticate": CHALLENGE, **NO_STORE},
    )


def _bearer() -> str | None:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _body(limit: int) -> Any:
    """The request's JSON document, or 413/415/400."""
    too_large = f"the push body is over AGENT_PUSH_MAX_BYTES ({limit} bytes)"
    if request.content_length is not None and request.content_length > limit:
        abort(413, message=too_large)
    if not request.is_json:
        abort(415, message="send the push as Content-Type: application/json")
    # Without Content-Length (chunked), werkzeug stops reading at max_content_length and
    # returns what it read: one byte over the limit tells a longer body from one that fits.
    request.max_content_length = limit + 1
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        abort(413, message=too_large)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting or digits
        abort(400, message="the push body is not valid JSON")


_PUSH_DOC = {
    "security": [{AGENT_SCHEME: []}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": PushSchema}}},
}


@blp.route("/push", methods=["POST"])
@blp.doc(**_PUSH_DOC)
@blp.response(
    204,
    description="Stored. Push again after the number of seconds in X-Agent-Interval.",
    headers={INTERVAL_HEADER: {"description": "Seconds until the next push (decimal).",
                               "schema": {"type": "string"}}},
)  # fmt: skip
@blp.alt_response(400, description="The body is not valid JSON.")
@blp.alt_response(401, description="Missing, malformed, unknown, revoked or expired token.")
@blp.alt_response(413, description="The body is over AGENT_PUSH_MAX_BYTES.")
@blp.alt_response(415, description="The body is not application/json.")
@blp.alt_response(422, description="A field is missing, unknown or out of range (named).")
@blp.alt_response(429, description="Pushed faster than AGENT_PUSH_MIN_INTERVAL; see Retry-After.")
def push() -> Response:
    """An agent's status push: figures and containers of its server (one SQL statement)."""
    service = ocore_agents.agents()
    token = _bearer()
    if not well_formed(token):
        _unauthorized()
    document = _body(service.settings.push_max_bytes)
    try:
        data = load_push(document)
    except ma.ValidationError as exc:
        abort(422, errors={"json": exc.messages})
    outcome = service.push(token, data)
    interval = {INTERVAL_HEADER: _seconds(service.interval_seconds), **NO_STORE}
    if outcome.accepted:
        answer = Response(status=204, headers=interval)
        del answer.headers["Content-Type"]  # no body
        return answer
    if not outcome.known:
        _unauthorized()
    retry = int(outcome.retry_after)
    abort(
        429,
        message=f"pushed too soon after the last push (AGENT_PUSH_MIN_INTERVAL "
        f"{service.settings.push_min_interval}); retry after {retry}s",
        headers={"Retry-After": str(retry), **interval},
    )
    raise AssertionError("unreachable")  # pragma: no cover


# -- admins -----------------------------------------------------------------------------------


class AgentSchema(ma.Schema):
    """An agent as listed: status, last push, token state (never a token or a hash)."""

    server = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["online", "stale", "offline", "never",
                                                 "revoked"]})  # fmt: skip
    last_seen = ma.fields.String(allow_none=True)
    last_seen_age_s = ma.fields.Float(allow_none=True)
    version = ma.fields.String(allow_none=True)
    hostname = ma.fields.String(allow_none=True)
    pushes = ma.fields.Integer()
    created_at = ma.fields.String()
    token_rotated_at = ma.fields.String(allow_none=True)
    previous_token_valid_until = ma.fields.String(allow_none=True)
    revoked_at = ma.fields.String(allow_none=True)


class AgentDetailSchema(AgentSchema):
    """An agent with its last push's snapshot."""

    snapshot = ma.fields.Dict(allow_none=True)


class IssuedSchema(AgentSchema):
    """An agent and its new token: shown once, store it on the server now."""

    token = ma.fields.String(metadata={"description": f"{PREFIX}…, shown this once."})


class RegisterSchema(ma.Schema):
    """The managed server (ssh plugin) the agent runs on."""

    server = ma.fields.String(required=True, validate=[ma.validate.Length(1, 64), printable()])


def _failing(exc: AgentError) -> None:
    abort(exc.status, message=exc.message)


@blp.route("", methods=["GET"])
@require(role="admin")
@blp.response(200, AgentSchema(many=True))
def list_agents() -> list[dict[str, Any]]:
    """Every agent with its status (online, stale, offline, never, revoked)."""
    return [agent.to_dict() for agent in ocore_agents.agents().list()]


@blp.route("", methods=["POST"])
@require(role="admin")
@blp.arguments(RegisterSchema)
@blp.response(201, IssuedSchema)
@blp.alt_response(404, description="No managed server by that name.")
@blp.alt_response(409, description="The server already has an agent.")
def add_agent(args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register the agent of a managed server; the answer holds its token, shown once."""
    try:
        issued = ocore_agents.agents().register(args["server"])
    except AgentError as exc:
        _failing(exc)
    return {**issued.agent.to_dict(), "token": issued.token}, 201, NO_STORE


@blp.route("/<server>", methods=["GET"])
@require(role="admin")
@blp.response(200, AgentDetailSchema)
@blp.alt_response(404, description="The server has no agent.")
def show_agent(server: str) -> dict[str, Any]:
    """One agent: status, last push, version, and the last snapshot."""
    try:
        return ocore_agents.agents().get(server).to_dict(snapshot=True)
    except AgentError as exc:
        _failing(exc)
        raise


@blp.route("/<server>/rotate-token", methods=["POST"])
@require(role="admin")
@blp.response(200, IssuedSchema)
@blp.alt_response(404, description="The server has no agent.")
@blp.alt_response(409, description="The agent is revoked.")
def rotate_token(server: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A new token; the previous one keeps working for AGENT_TOKEN_GRACE."""
    try:
        issued = ocore_agents.agents().rotate_token(server)
    except AgentError as exc:
        _failing(exc)
    return {**issued.agent.to_dict(), "token": issued.token}, 200, NO_STORE


@blp.route("/<server>/revoke", methods=["POST"])
@require(role="admin")
@blp.response(200, AgentSchema)
@blp.alt_response(404, description="The server has no agent.")
def revoke(server: str) -> dict[str, Any]:
    """Revoke the agent: its tokens stop working at once."""
    try:
        return ocore_agents.agents().revoke(server).to_dict()
    except AgentError as exc:
        _failing(exc)
        raise
