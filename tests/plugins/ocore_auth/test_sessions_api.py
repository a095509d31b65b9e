"""/api/auth through the real app on real PostgreSQL: login, the token's claims and lifetime,
refresh rotation and reuse detection, logout, /me, cookies with CSRF, disabled users."""

from __future__ import annotations

import time

import jwt
import pytest

import ocore_auth
from ocore_auth.testing import TEST_PASSWORD, build_auth_app, login
from ocore_flask.app import close_app
from ocore_flask.testing import JWT_SECRET


def test_login_returns_oauth_shaped_tokens(users, auth_client) -> None:
    users("ops@example.com", "operator")
    response = login(auth_client, "ops@example.com")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["typ"] == "access" and claims["role"] == "operator"
    assert claims["sub"].isdigit() and len(claims["jti"]) == 32
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    assert body["refresh_token"].startswith("ocr_") and body["refresh_token"].count(".") == 0


def test_login_matches_email_case_insensitively(users, auth_client) -> None:
    users("Ops@Example.com", "viewer")
    assert login(auth_client, "  oPS@example.COM ").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nobody@example.com", "password": TEST_PASSWORD},
        {"email": "ops@example.com", "password": "wrong-password-1"},
    ],
)
def test_wrong_email_or_password_get_the_same_answer(users, auth_client, body) -> None:
    users("ops@example.com")
    response = auth_client.post("/api/auth/login", json=body)
    assert response.status_code == 401
    assert response.get_json()["message"] == "wrong e-mail address or password"
    assert "WWW-Authenticate" in response.headers


def test_last_login_is_recorded(users, auth_client) -> None:
    user = users("ops@example.com")
    assert user.last_login_at is None
    login(auth_client, "ops@example.com")
    assert ocore_auth.auth(auth_client.application).users.get(user.id).last_login_at


def test_me_tells_who_and_until_when(users, auth_client) -> None:
    users("ops@example.com", "admin")
    body = login(auth_client, "ops@example.com").get_json()
    me = auth_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    data = me.get_json()
    assert data["email"] == "ops@example.com" and data["role"] == "admin"
    exp = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])["exp"]
    assert data["expires_at"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(exp)))


def test_me_without_a_token_is_401_with_a_bearer_challenge(auth_client) -> None:
    response = auth_client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_refresh_rotates_and_the_old_token_stops_working(users, auth_client) -> None:
    users("ops@example.com")
    first = login(auth_client, "ops@example.com").get_json()
    second = auth_client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert set(rotated) == {"access_token", "refresh_token", "token_type", "expires_in"}
    again = auth_client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(users, auth_client) -> None:
    users("ops@example.com")
    first = login(auth_client, "ops@example.com").get_json()["refresh_token"]
    second = auth_client.post("/api/auth/refresh", json={"refresh_token": first}).get_json()
    reuse = auth_client.post("/api/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401 and "reused" in reuse.get_json()["message"]
    # The thief's replay killed the legitimate holder's newer token too.
    victim = auth_client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert victim.status_code == 401


def test_other_sessions_survive_a_reuse(users, auth_client) -> None:
    users("ops@example.com")
    laptop = login(auth_client, "ops@example.com").get_json()["refresh_token"]
    phone = login(auth_client, "ops@example.com").get_json()["refresh_token"]
    auth_client.post("/api/auth/refresh", json={"refresh_token": laptop})
    auth_client.post("/api/auth/refresh", json={"refresh_token": laptop})
    assert auth_client.post("/api/auth/refresh", json={"refresh_token": phone}).status_code == 200


def test_logout_revokes_the_family_and_clears_cookies(users, auth_client) -> None:
    users("ops@example.com")
    first = login(auth_client, "ops@example.com").get_json()["refresh_token"]
    second = auth_client.post("/api/auth/refresh", json={"refresh_token": first}).get_json()
    out = auth_client.post("/api/auth/logout", json={"refresh_token": second["refresh_token"]})
    assert out.status_code == 204
    cleared = {c.split("=")[0] for c in out.headers.getlist("Set-Cookie") if "Max-Age=0" in c}
    assert cleared == {"ocore_access", "ocore_refresh", "ocore_csrf"}
    after = auth_client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


@pytest.mark.parametrize(
    ("token", "why"),
    [("ocr_" + "A" * 43, "unknown"), ("not-a-refresh-token", "not a refresh token")],
)
def test_unknown_refresh_tokens_are_refused(auth_client, token: str, why: str) -> None:
    response = auth_client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401 and why in response.get_json()["message"]


def test_an_access_token_is_not_a_refresh_token(users, auth_client) -> None:
    users("ops@example.com")
    access = login(auth_client, "ops@example.com").get_json()["access_token"]
    response = auth_client.post("/api/auth/refresh", json={"refresh_token": access[:128]})
    assert response.status_code in (401, 422)


def test_a_refresh_token_is_not_an_access_token(users, auth_client) -> None:
    users("ops@example.com")
    refresh = login(auth_client, "ops@example.com").get_json()["refresh_token"]
    me = auth_client.get("/api/auth/me", headers={"Authorization": f"Bearer {refresh}"})
    assert me.status_code == 401 and "invalid_token" in me.headers["WWW-Authenticate"]


def test_disabled_users_can_neither_log_in_nor_refresh_nor_call(users, auth_client) -> None:
    users("ops@example.com")
    body = login(auth_client, "ops@example.com").get_json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    ocore_auth.auth(auth_client.application).set_disabled("ops@example.com", True)
    assert login(auth_client, "ops@example.com").status_code == 401
    refresh = auth_client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refresh.status_code == 401
    assert auth_client.get("/api/auth/me", headers=headers).status_code == 401
    ocore_auth.auth(auth_client.application).set_disabled("ops@example.com", False)
    assert login(auth_client, "ops@example.com").status_code == 200


def test_revoke_refuses_tokens_issued_before_it_even_in_the_same_second(users, auth_client):
    users("ops@example.com")
    old = login(auth_client, "ops@example.com").get_json()
    ocore_auth.auth(auth_client.application).revoke("ops@example.com")
    new = login(auth_client, "ops@example.com").get_json()
    me = auth_client.get
    assert (
        me("/api/auth/me", headers={"Authorization": f"Bearer {old['access_token']}"}).status_code
        == 401
    )
    assert (
        me("/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code
        == 200
    )


def test_password_change_ends_sessions(users, auth_client) -> None:
    users("ops@example.com")
    old = login(auth_client, "ops@example.com").get_json()
    ocore_auth.auth(auth_client.application).set_password("ops@example.com", "new-password-77")
    headers = {"Authorization": f"Bearer {old['access_token']}"}
    assert auth_client.get("/api/auth/me", headers=headers).status_code == 401
    assert login(auth_client, "ops@example.com").status_code == 401
    assert login(auth_client, "ops@example.com", "new-password-77").status_code == 200


# --- cookies and CSRF ----------------------------------------------------------------------


def test_login_sets_http_only_lax_cookies(users, auth_client) -> None:
    users("ops@example.com")
    response = login(auth_client, "ops@example.com")
    cookies = {c.split("=")[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"ocore_access", "ocore_refresh", "ocore_csrf"}
    for name in ("ocore_access", "ocore_refresh"):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]  # development serves plain http
    assert "HttpOnly" not in cookies["ocore_csrf"]
    assert "Path=/api/auth" in cookies["ocore_refresh"]


def test_cookie_refresh_needs_the_csrf_header(users, auth_client) -> None:
    users("ops@example.com")
    login(auth_client, "ops@example.com")
    refused = auth_client.post("/api/auth/refresh", json={})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.get_json()["message"]
    csrf = auth_client.get_cookie("ocore_csrf").value
    ok = auth_client.post("/api/auth/refresh", json={}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200


def test_cookie_authenticates_safe_requests(users, auth_client) -> None:
    users("ops@example.com")
    login(auth_client, "ops@example.com")
    assert auth_client.get("/api/auth/me").status_code == 200


def test_strict_mode_cookies_are_secure(auth_env, strict_env) -> None:
    env = {
        **strict_env,
        "DATABASE_URL": auth_env["DATABASE_URL"],
        "DB_POOL_MIN_CONNS": "0",
        "TRUSTED_PROXY_HOPS": "0",
    }
    app = build_auth_app(env)
    try:
        ocore_auth.auth(app).add_user("strict@example.com", "viewer", TEST_PASSWORD)
        response = login(app.test_client(), "strict@example.com")
        assert response.status_code == 200
        for cookie in response.headers.getlist("Set-Cookie"):
            assert "Secure" in cookie and "SameSite=Lax" in cookie
    finally:
        with ocore_auth.auth(app).engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM auth_users WHERE email = 'strict@example.com'")
        close_app(app)


# --- lifetimes and secret rotation -----------------------------------------------------------


def test_short_access_expiry_expires(users, auth_env) -> None:
    app = build_auth_app({**auth_env, "JWT_ACCESS_EXPIRY": "1s"})
    try:
        user = ocore_auth.auth(app).add_user("short@example.com", "viewer", TEST_PASSWORD)
        body = login(app.test_client(), user.email).get_json()
        assert body["expires_in"] == 1
        claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
        assert claims["exp"] - claims["iat"] == 1
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        assert app.test_client().get("/api/auth/me", headers=headers).status_code == 200
        time.sleep(max(0.0, claims["exp"] + 1.05 - time.time()))
        expired = app.test_client().get("/api/auth/me", headers=headers)
        assert expired.status_code == 401 and "expired" in expired.get_json()["message"]
    finally:
        close_app(app)


def test_tokens_signed_with_the_previous_secret_still_verify(users, auth_env) -> None:
    old_app = build_auth_app(auth_env)
    new_secret = "rotated-jwt-Pq8Wn3Xk6Vr1Tz4Ym7Lb2Hc5"
    new_app = build_auth_app(
        {**auth_env, "JWT_SECRET": new_secret, "JWT_SECRET_PREVIOUS": JWT_SECRET}
    )
    only_new = build_auth_app({**auth_env, "JWT_SECRET": new_secret})
    try:
        ocore_auth.auth(old_app).add_user("rot@example.com", "viewer", TEST_PASSWORD)
        old = login(old_app.test_client(), "rot@example.com").get_json()["access_token"]
        headers = {"Authorization": f"Bearer {old}"}
        assert new_app.test_client().get("/api/auth/me", headers=headers).status_code == 200
        assert only_new.test_client().get("/api/auth/me", headers=headers).status_code == 401
        fresh = login(new_app.test_client(), "rot@example.com").get_json()["access_token"]
        assert jwt.decode(fresh, new_secret, algorithms=["HS256"])["typ"] == "access"
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(fresh, JWT_SECRET, algorithms=["HS256"])
    finally:
        for app in (old_app, new_app, only_new):
            close_app(app)
