"""``POST /api/agents/push`` in-process: a push is stored and answered with the interval; every
bad input gets its 4xx (the field named where there is one) and stores nothing; the rate limit,
token rotation with its grace, and revocation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import ocore_agents
import ocore_database
from ocore_agents.payload import PUSH_SCHEMA, load_push
from ocore_agents.testing import RegisteredAgent, push_body, register_agent, set_last_seen
from ocore_agents.tokens import new_token
from ocore_auth.testing import bearer, create_user
from ocore_flask.testing import HEALTH_TOKEN

URL = "/api/agents/push"


def post(app: Flask, token: str | None, body: Any = None, **kwargs: Any) -> Any:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    if body is not None:
        kwargs["data"] = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    return app.test_client().post(URL, headers=headers, **kwargs)


def stored(app: Flask, server: str = "web1") -> ocore_agents.Agent:
    return ocore_agents.agents(app).get(server)


def assert_nothing_stored(app: Flask, server: str = "web1") -> None:
    agent = stored(app, server)
    assert (agent.pushes, agent.last_seen, agent.snapshot, agent.version) == (0, None, None, None)


def test_a_push_is_stored_and_answered_with_the_interval(agents_app, agent) -> None:
    response = post(agents_app, agent.token, push_body())
    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.data == b"" and "Content-Type" not in response.headers
    assert response.headers["X-Agent-Interval"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    found = stored(agents_app)
    assert (found.status, found.pushes, found.version) == ("online", 1, "0.1.0")
    assert found.hostname == "web1.example.com"
    assert found.snapshot == push_body()
    assert found.age is not None and found.age < timedelta(seconds=5)


def test_the_minimal_push_and_defaults(agents_app, agent) -> None:
    assert post(agents_app, agent.token, {"version": "2.0", "hostname": "h"}).status_code == 204
    assert stored(agents_app).snapshot == {
        "version": "2.0",
        "hostname": "h",
        "disks": [],
        "containers": None,
    }


def test_a_push_too_soon_is_429_with_retry_after_and_not_stored(agents_app, agent) -> None:
    assert post(agents_app, agent.token, push_body()).status_code == 204
    again = post(agents_app, agent.token, push_body(hostname="changed"))
    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= 10  # AGENT_PUSH_MIN_INTERVAL: 30s / 3
    assert again.headers["X-Agent-Interval"] == "30"
    assert "AGENT_PUSH_MIN_INTERVAL" in again.get_json()["message"]
    assert (stored(agents_app).pushes, stored(agents_app).hostname) == (1, "web1.example.com")
    set_last_seen(agents_app, "web1", 10.0)  # the minimum interval has passed
    assert post(agents_app, agent.token, push_body(hostname="changed")).status_code == 204
    assert (stored(agents_app).pushes, stored(agents_app).hostname) == (2, "changed")


def test_retry_after_never_exceeds_the_minimum_interval(agents_app, agent) -> None:
    """A push racing this one can commit a last_seen later than this statement's now() (its
    transaction start): what that looks like is a last_seen in the future."""
    assert post(agents_app, agent.token, push_body()).status_code == 204
    set_last_seen(agents_app, "web1", -3.0)
    again = post(agents_app, agent.token, push_body())
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "10"  # AGENT_PUSH_MIN_INTERVAL, not 13


def _nested(messages: dict, path: tuple) -> Any:
    for key in path:
        messages = messages[key]
    return messages


BAD_BODIES = {
    "unknown field": (push_body(extra=1), ("extra",)),
    "unknown nested field": (
        push_body(containers=[{"name": "a", "state": "running", "image": "x"}]),
        ("containers", "0", "image"),
    ),
    "missing version": ({"hostname": "h"}, ("version",)),
    "negative uptime": (push_body(uptime_s=-1), ("uptime_s",)),
    "absurd load": (push_body(load={"avg1": 1e9, "avg5": 0, "avg15": 0}), ("load", "avg1")),
    "cpu over 100 %": (push_body(cpu={"count": 2, "percent": 150}), ("cpu", "percent")),
    "no cpu": (push_body(cpu={"count": 0}), ("cpu", "count")),
    "fractional count": (push_body(cpu={"count": 2.5}), ("cpu", "count")),
    "more available than total": (
        push_body(memory={"total_bytes": 10, "available_bytes": 11}),
        ("memory", "available_bytes"),
    ),
    "more free than total": (
        push_body(disks=[{"path": "/", "total_bytes": 1, "free_bytes": 2}]),
        ("disks", "0", "free_bytes"),
    ),
    "negative bytes": (
        push_body(memory={"total_bytes": -1, "available_bytes": 0}),
        ("memory", "total_bytes"),
    ),
    "huge bytes": (
        push_body(memory={"total_bytes": 10**30, "available_bytes": 0}),
        ("memory", "total_bytes"),
    ),
    "a number as text": (push_body(uptime_s="5"), ("uptime_s",)),
    "a boolean as number": (push_body(uptime_s=True), ("uptime_s",)),
    "huge container list": (
        push_body(containers=[{"name": f"c{i}", "state": "running"} for i in range(501)]),
        ("containers",),
    ),
    "unknown container state": (
        push_body(containers=[{"name": "a", "state": "sleepy"}]),
        ("containers", "0", "state"),
    ),
    "a name with spaces": (push_body(hostname="two words"), ("hostname",)),
    "a NUL in a name": (push_body(version="1\x00"), ("version",)),
    "a trailing newline": (push_body(hostname="h\n"), ("hostname",)),
    "a control character in a path": (
        push_body(disks=[{"path": "/\n", "total_bytes": 1, "free_bytes": 1}]),
        ("disks", "0", "path"),
    ),
    "a NUL in a container": (
        push_body(containers=[{"name": "a\x00", "state": "running"}]),
        ("containers", "0", "name"),
    ),
    "not an object": ([1, 2], ("_schema",)),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_bad_body_is_422_naming_the_field_and_nothing_is_stored(agents_app, agent, case) -> None:
    body, path = BAD_BODIES[case]
    response = post(agents_app, agent.token, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert _nested(response.get_json()["errors"]["json"], path)
    assert_nothing_stored(agents_app)


RAW_BODIES = {
    "not JSON": ("application/json", b"{not json", 400),
    "empty": ("application/json", b"", 400),
    "bad UTF-8": ("application/json", b'{"version": "\xff"}', 400),
    "absurdly nested": ("application/json", b"[" * 50_000, 400),
    "absurdly many digits": ("application/json", b'{"uptime_s": ' + b"9" * 5000 + b"}", 400),
    "NaN": ("application/json", b'{"version":"1","hostname":"h","uptime_s":NaN}', 422),
    "text/plain": ("text/plain", json.dumps(push_body()).encode(), 415),
    "a form": ("application/x-www-form-urlencoded", b"version=1&hostname=h", 415),
    "no content type": (None, json.dumps(push_body()).encode(), 415),
    "over the limit": ("application/json", b" " * 65_537, 413),
}


@pytest.mark.parametrize("case", sorted(RAW_BODIES))
def test_a_malformed_request_gets_its_4xx_and_nothing_is_stored(agents_app, agent, case) -> None:
    content_type, data, status = RAW_BODIES[case]
    headers = {"Content-Type": content_type} if content_type else {}
    response = post(agents_app, agent.token, data=data, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert_nothing_stored(agents_app)


def test_a_chunked_body_over_the_limit_is_413_not_truncated(agents_app, agent) -> None:
    """No Content-Length (chunked): the limit holds for what is read; werkzeug alone would
    hand over the first AGENT_PUSH_MAX_BYTES bytes as if they were the whole body."""
    from io import BytesIO

    body = json.dumps(push_body(hostname="h" * 200, uptime_s=1)).encode() + b" " * 70_000
    response = agents_app.test_client().post(
        URL,
        input_stream=BytesIO(body),
        headers={"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 413
    assert_nothing_stored(agents_app)


def _bad_tokens(app: Flask, agent: RegisteredAgent) -> dict[str, dict[str, str]]:
    user = create_user(app, f"admin-{new_token()[-8:]}@example.com", "admin")
    return {
        "none": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic": {"Authorization": f"Basic {agent.token}"},
        "malformed": {"Authorization": "Bearer oca_short"},
        "unknown": {"Authorization": f"Bearer {new_token()}"},
        "a user's JWT": bearer(app, user),
        "the health token": {"Authorization": f"Bearer {HEALTH_TOKEN}"},
        "token with a suffix": {"Authorization": f"Bearer {agent.token}x"},
    }


def test_every_bad_token_is_401_with_a_challenge_and_nothing_stored(agents_app, agent) -> None:
    for name, headers in _bad_tokens(agents_app, agent).items():
        response = post(agents_app, None, push_body(), headers=headers)
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
        assert agent.token not in response.get_data(as_text=True)
    assert_nothing_stored(agents_app)


def test_revocation_stops_the_token_at_once(agents_app, agent) -> None:
    assert post(agents_app, agent.token, push_body()).status_code == 204
    revoked = ocore_agents.agents(agents_app).revoke("web1")
    assert revoked.status == "revoked"
    set_last_seen(agents_app, "web1", 60.0)
    response = post(agents_app, agent.token, push_body(hostname="after"))
    assert response.status_code == 401
    assert stored(agents_app).pushes == 1 and stored(agents_app).hostname != "after"
    again = register_agent(agents_app, "web1", create=False)  # a fresh start
    assert post(agents_app, agent.token, push_body()).status_code == 401
    assert post(agents_app, again.token, push_body()).status_code == 204
    assert stored(agents_app).pushes == 1 and stored(agents_app).status == "online"


def test_rotation_keeps_the_old_token_for_the_grace_then_refuses_it(agents_app, agent) -> None:
    service = ocore_agents.agents(agents_app)
    issued = service.rotate_token("web1")
    assert issued.token != agent.token
    grace = issued.agent.previous_token_expires_at - issued.agent.token_rotated_at
    assert timedelta(hours=23, minutes=59) < grace <= timedelta(hours=24)  # AGENT_TOKEN_GRACE
    assert post(agents_app, agent.token, push_body()).status_code == 204  # old: within grace
    set_last_seen(agents_app, "web1", 60.0)
    assert post(agents_app, issued.token, push_body()).status_code == 204  # new
    set_last_seen(agents_app, "web1", 60.0)
    _expire_previous_token(agents_app)
    assert post(agents_app, agent.token, push_body()).status_code == 401  # grace over
    assert post(agents_app, issued.token, push_body()).status_code == 204
    assert stored(agents_app).pushes == 3


def test_rotation_without_grace_and_a_second_rotation(agents_app, agent) -> None:
    store = ocore_agents.agents(agents_app).store
    first = store.rotate("web1", timedelta(0))
    assert first.agent.previous_token_expires_at is None
    assert post(agents_app, agent.token, push_body()).status_code == 401
    second = store.rotate("web1", timedelta(hours=1))
    third = store.rotate("web1", timedelta(hours=1))  # only the latest previous token lives on
    assert post(agents_app, first.token, push_body()).status_code == 401
    assert post(agents_app, second.token, push_body()).status_code == 204
    set_last_seen(agents_app, "web1", 60.0)
    assert post(agents_app, third.token, push_body()).status_code == 204


def _expire_previous_token(app: Flask) -> None:
    with ocore_database.engine(app).begin() as conn:
        conn.execute(text("UPDATE agents SET previous_token_expires_at = now() - interval '1s'"))


def test_the_openapi_document_describes_the_push(agents_app) -> None:
    spec = agents_app.test_client().get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/agents/push"]["post"]
    assert operation["security"] == [{"agentToken": []}]
    assert {"204", "400", "401", "413", "415", "422", "429"} <= set(operation["responses"])
    assert "X-Agent-Interval" in operation["responses"]["204"]["headers"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Push"}
    assert spec["components"]["securitySchemes"]["agentToken"]["scheme"] == "bearer"
    admin = spec["paths"]["/api/agents/{server}/rotate-token"]["post"]
    assert {"401", "403"} <= set(admin["responses"])


CONTAINER_ITEMS = [
    {"name": "web", "state": "running"},
    {"name": "web", "state": "running", "health": "starting"},
    {"name": "", "state": "running"},
    {"name": "a b", "state": "exited", "health": "healthy"},
    {"name": "x" * 256, "state": "dead"},
    {"name": 5, "state": "running"},
    {"name": None, "state": None, "health": None},
    {"state": "paused", "health": 3},
    {"name": "n", "state": "sleepy", "health": "bad", "image": "x", "id": 1},
    {"name": "\x00", "state": "created"},
    {"name": "web\n", "state": "created"},
    {},
    "web",
    None,
    ["web"],
]


def outcome(load: Any, body: Any) -> tuple[str, Any]:
    try:
        return "ok", load(body)
    except ma.ValidationError as exc:
        return "error", exc.messages


@pytest.mark.parametrize("item", CONTAINER_ITEMS, ids=[repr(i)[:30] for i in CONTAINER_ITEMS])
def test_the_compiled_schema_answers_as_marshmallow_would(item) -> None:
    """The view validates with ``load_push`` (``fastload``); its answers are PushSchema's."""
    body = push_body(containers=[item, {"name": "ok", "state": "running"}])
    assert outcome(load_push, body) == outcome(PUSH_SCHEMA.load, body)


BAD = st.one_of(
    st.floats(), st.integers(), st.booleans(), st.none(), st.sampled_from(["1", "", "a b"]),
    st.just(10**400),
    st.lists(st.integers(), max_size=1),
)  # fmt: skip


def mixed(valid: st.SearchStrategy, *bad: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ``valid`` values, sometimes a bad one: bodies close to what agents send."""
    return st.one_of(valid, valid, valid, *bad, BAD)


def number(low: float, high: float) -> st.SearchStrategy:
    edges = st.sampled_from([low, high, low - 1, high + 1, high * 2, -0.5])
    return mixed(st.integers(int(low), int(min(high, 2**62))), st.floats(low, high), edges)


def words(*valid: str) -> st.SearchStrategy:
    bad = st.sampled_from(["", "a b", "h\n", "x" * 300, "\x00", "tab\t"])
    return mixed(st.sampled_from(valid), bad, st.text(max_size=4))


def obj(required: dict, optional: dict | None = None) -> st.SearchStrategy:
    optional = optional or {}
    plain = st.fixed_dictionaries(required, optional=optional)
    extra = st.fixed_dictionaries(required, optional={**optional, "extra": st.just(1)})
    partial = st.fixed_dictionaries({}, optional={**required, **optional})
    return mixed(plain, extra, partial)


_CONTAINER = obj(
    {"name": words("web", "db-1", "x" * 255), "state": words("running", "exited", "sleepy")},
    {"health": words("healthy", "none", "starting", "bad")},
)
_DISK = obj(
    {"path": words("/", "/var/lib"), "total_bytes": number(0, 2**60),
     "free_bytes": number(0, 2**60)}
)  # fmt: skip
BODIES = obj(
    {"version": words("0.1.0", "2"), "hostname": words("web1", "h")},
    {
        "uptime_s": number(0, 3e9),
        "load": obj({k: number(0, 1e6) for k in ("avg1", "avg5", "avg15")}),
        "cpu": obj({"count": number(1, 65536)}, {"percent": number(0, 100)}),
        "memory": obj(
            {"total_bytes": number(0, 2**60), "available_bytes": number(0, 2**60)},
            {"swap_total_bytes": number(0, 2**60), "swap_free_bytes": number(0, 2**60)},
        ),
        "disks": mixed(st.lists(_DISK, max_size=3)),
        "containers": mixed(st.lists(_CONTAINER, max_size=4)),
    },
)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODIES)
def test_generated_bodies_get_the_same_answer_from_both(body) -> None:
    assert outcome(load_push, body) == outcome(PUSH_SCHEMA.load, body)


def test_the_one_difference_a_too_long_list_is_refused_first() -> None:
    bad = [{"name": "a b", "state": "x"}] * 501
    assert outcome(load_push, push_body(containers=bad)) == (
        "error",
        {"containers": ["Longer than maximum length 500."]},
    )
    assert outcome(PUSH_SCHEMA.load, push_body(containers=bad))[1]["containers"][0]


def test_a_push_is_one_statement_whatever_its_outcome(agents_app, agent) -> None:
    """Stored, rate-limited or refused: one statement on the shared pool, in autocommit (no
    BEGIN/COMMIT round trips), so thousands of agents cost little."""
    from sqlalchemy import event

    engine = ocore_database.engine(agents_app)
    seen: list[tuple[str, str | None]] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append((statement, conn.get_execution_options().get("isolation_level")))

    event.listen(engine, "before_cursor_execute", record)
    try:
        statuses = [
            post(agents_app, agent.token, push_body()).status_code,  # stored
            post(agents_app, agent.token, push_body()).status_code,  # too soon
            post(agents_app, new_token(), push_body()).status_code,  # unknown token
            post(agents_app, "oca_bad", push_body()).status_code,  # malformed: no statement
            post(agents_app, agent.token, push_body(uptime_s=-1)).status_code,  # no statement
        ]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statuses == [204, 429, 401, 401, 422]
    assert len(seen) == 3
    assert all(sql.lstrip().startswith("WITH pushed AS") for sql, _ in seen)
    assert {level for _, level in seen} == {"AUTOCOMMIT"}
