"""``require(role=...)`` on another plugin's blueprint: 401 with a Bearer challenge, 403 for a
role too low, cookies with CSRF for unsafe methods, the caller's current role, and the security
schemes in the OpenAPI document."""

from __future__ import annotations

import pytest
from flask_smorest import Blueprint

import ocore_auth
from ocore_auth import current_user, require
from ocore_auth.testing import bearer, build_auth_app, login, truncate
from ocore_flask.app import close_app
from ocore_flask.plugin import Plugin

blp = Blueprint("things", __name__, url_prefix="/api/things")


@blp.route("/read")
@require()
def read() -> dict:
    return {"email": current_user().email, "role": current_user().role}


@blp.route("/operate", methods=["POST"])
@require(role="operator")
def operate() -> dict:
    return {"done": True}


@blp.route("/administer", methods=["DELETE"])
@require(role="admin")
def administer() -> dict:
    return {"done": True}


THINGS = Plugin("things", "test plugin", hooks={"api_blueprints": lambda: [blp]})


@pytest.fixture(scope="module")
def app(auth_env):
    app = build_auth_app({**auth_env, "AUTH_USER_CACHE_TTL": "0"}, [THINGS])
    yield app
    close_app(app)


@pytest.fixture
def people(app):
    truncate(app)
    service = ocore_auth.auth(app)
    return {
        role: service.add_user(f"{role}@example.com", role, "guard-pass-1")
        for role in ("viewer", "operator", "admin")
    }


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("viewer", {"read": 200, "operate": 403, "administer": 403}),
        ("operator", {"read": 200, "operate": 200, "administer": 403}),
        ("admin", {"read": 200, "operate": 200, "administer": 200}),
    ],
)
def test_roles_ascend(app, people, role: str, expected: dict) -> None:
    client, headers = app.test_client(), bearer(app, people[role])
    got = {
        "read": client.get("/api/things/read", headers=headers).status_code,
        "operate": client.post("/api/things/operate", headers=headers).status_code,
        "administer": client.delete("/api/things/administer", headers=headers).status_code,
    }
    assert got == expected


def test_forbidden_names_the_role_needed(app, people) -> None:
    response = app.test_client().post("/api/things/operate", headers=bearer(app, people["viewer"]))
    assert response.get_json()["message"] == "this needs the operator role; you are viewer"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not.a.jwt"],
)
def test_missing_or_bad_credentials_are_401_with_a_challenge(app, header) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = app.test_client().get("/api/things/read", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ocore"')
    assert response.headers["Cache-Control"] == "no-store"


def test_scheme_is_case_insensitive(app, people) -> None:
    token = bearer(app, people["viewer"])["Authorization"].split()[1]
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = app.test_client().get(
            "/api/things/read", headers={"Authorization": f"{scheme} {token}"}
        )
        assert response.status_code == 200


def test_demotion_applies_to_live_tokens(app, people) -> None:
    headers = bearer(app, people["operator"])
    client = app.test_client()
    assert client.post("/api/things/operate", headers=headers).status_code == 200
    ocore_auth.auth(app).set_role("operator@example.com", "viewer")
    assert client.post("/api/things/operate", headers=headers).status_code == 403
    assert client.get("/api/things/read", headers=headers).get_json()["role"] == "viewer"


def test_deleted_user_token_is_refused(app, people) -> None:
    headers = bearer(app, people["viewer"])
    truncate(app)
    assert app.test_client().get("/api/things/read", headers=headers).status_code == 401


def test_cookie_auth_needs_csrf_for_unsafe_methods(app, people) -> None:
    client = app.test_client()
    assert login(client, "operator@example.com", "guard-pass-1").status_code == 200
    assert client.get("/api/things/read").status_code == 200
    refused = client.post("/api/things/operate")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.get_json()["message"]
    wrong = client.post("/api/things/operate", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    csrf = client.get_cookie("ocore_csrf").value
    ok = client.post("/api/things/operate", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200


def test_bearer_wins_over_cookie_and_needs_no_csrf(app, people) -> None:
    client = app.test_client()
    login(client, "viewer@example.com", "guard-pass-1")
    response = client.post("/api/things/operate", headers=bearer(app, people["operator"]))
    assert response.status_code == 200


def test_csrf_cookie_is_readable_by_scripts_but_session_cookies_are_not(app, people) -> None:
    response = login(app.test_client(), "viewer@example.com", "guard-pass-1")
    cookies = {c.split("=")[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "HttpOnly" not in cookies["ocore_csrf"]
    assert "HttpOnly" in cookies["ocore_access"] and "HttpOnly" in cookies["ocore_refresh"]


def test_openapi_documents_the_schemes_and_answers(app) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"
    operate = spec["paths"]["/api/things/operate"]["post"]
    assert operate["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert {"401", "403"} <= set(operate["responses"])
    read = spec["paths"]["/api/things/read"]["get"]
    assert "401" in read["responses"] and "403" not in read["responses"]
    assert "security" not in spec["paths"]["/api/auth/login"]["post"]
    assert spec["paths"]["/api/auth/me"]["get"]["security"]


def test_require_rejects_an_unknown_role_at_import_time() -> None:
    with pytest.raises(Exception, match="unknown role"):
        require(role="superuser")


def test_current_user_outside_a_guarded_view_is_an_error(app) -> None:
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="require"):
        current_user()
