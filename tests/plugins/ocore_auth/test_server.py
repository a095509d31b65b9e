"""The auth flow through real servers: gunicorn with two workers (rotation, reuse detection and
throttling hold across processes, because their state is in PostgreSQL) and ``ocore serve``;
nothing replayable in the servers' own output."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from ocore_auth.testing import TEST_PASSWORD
from ocore_flask.testing import ServerProcess, base_env, free_port, script


def call(url: str, body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


@pytest.fixture
def account(users):
    users("srv@example.com", "operator")
    return "srv@example.com"


def flow(base: str, email: str) -> list[str]:
    """Login, /me, refresh, reuse, throttle: what a client sees; returns every token seen."""
    seen = []
    status, _, tokens = call(f"{base}/api/auth/login", {"email": email, "password": TEST_PASSWORD})
    assert status == 200, tokens
    seen += [tokens["access_token"], tokens["refresh_token"]]
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(4):  # lands on both workers
        status, _, me = call(f"{base}/api/auth/me", headers=auth)
        assert status == 200 and me["email"] == email and me["role"] == "operator"
    status, _, rotated = call(
        f"{base}/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    seen.append(rotated["refresh_token"])
    for _ in range(2):
        status, _, reuse = call(
            f"{base}/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}
        )
        assert status == 401
    status, _, _ = call(f"{base}/api/auth/refresh", {"refresh_token": rotated["refresh_token"]})
    assert status == 401, "reuse revoked the family on whichever worker saw it"
    codes = []
    for _ in range(7):
        status, headers, _ = call(
            f"{base}/api/auth/login", {"email": email, "password": "wrong-pass-9"}
        )
        codes.append(status)
    assert codes[:5] == [401] * 5 and codes[-1] == 429
    status, headers, _ = call(
        f"{base}/api/auth/login", {"email": email, "password": "wrong-pass-9"}
    )
    assert status == 429 and int(headers["Retry-After"]) >= 1
    return seen


def test_flow_through_gunicorn_with_two_workers(auth_env, account) -> None:
    port = free_port()
    argv = [script("gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    with ServerProcess(argv, base_env(auth_env), port) as server:
        seen = flow(server.url, account)
    output = server.output
    assert "/api/auth/login" in output
    for secret in [*seen, TEST_PASSWORD, "wrong-pass-9", "$argon2"]:
        assert secret not in output


def test_flow_through_ocore_serve(auth_env, account) -> None:
    port = free_port()
    env = base_env({**auth_env, "SERVER_PORT": str(port)})
    with ServerProcess([script("ocore"), "serve"], env, port) as server:
        seen = flow(server.url, account)
    for secret in [*seen, TEST_PASSWORD, "wrong-pass-9"]:
        assert secret not in server.output
