"""Bad input to /api/auth gets a clear 4xx and leaves nothing replayable in the logs: malformed
JSON, missing or unknown fields, over-long values (bounded before hashing), non-UTF-8 bodies."""

from __future__ import annotations

import logging

import pytest

from ocore_auth.testing import TEST_PASSWORD, login


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def post_raw(client, path: str, data: bytes, content_type: str = "application/json"):
    return client.post(path, data=data, content_type=content_type)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"{not json", 400),
        (b"", 422),  # no body: both fields named as missing
        (b"[]", 422),
        (b'"a string"', 422),
        (b'{"email": "a@example.com"}', 422),
        (b'{"password": "x1234567"}', 422),
        (b'{"email": 5, "password": "abcdefg1"}', 422),
        (b'{"email": "a@example.com", "password": null}', 422),
        (b'{"email": "a@example.com", "password": "abcdefg1", "admin": true}', 422),
        (b'{"email": "\xff\xfe@example.com", "password": "abcdefg1"}', 400),
        (b"\xff\xfe\x00{", 400),
    ],
)
def test_malformed_login_bodies_are_4xx(auth_client, data: bytes, status: int) -> None:
    response = post_raw(auth_client, "/api/auth/login", data)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", {"email": "\x00", "password": "abcdefg1"}),
        ("/api/auth/login", {"email": "a@example.com\n", "password": "abcdefg1"}),
        ("/api/auth/passkey/login/begin", {"email": "a\x00@example.com"}),
    ],
)
def test_control_characters_in_an_email_are_a_named_422(auth_client, path: str, body) -> None:
    """PostgreSQL text cannot hold NUL: found by the OpenAPI fuzz test as a 500."""
    response = auth_client.post(path, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"]["json"]["email"] == ["must not contain control characters"]


def test_missing_field_is_named(auth_client) -> None:
    response = post_raw(auth_client, "/api/auth/login", b'{"email": "a@example.com"}')
    assert "password" in response.get_json()["errors"]["json"]


def test_form_encoded_body_is_refused(auth_client) -> None:
    response = auth_client.post("/api/auth/login", data={"email": "a@b.c", "password": "abcdefg1"})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "a" * 250 + "@example.com"), ("password", "a1" * 513)],
)
def test_over_long_values_are_refused_before_any_work(auth_client, field: str, value: str) -> None:
    body = {"email": "a@example.com", "password": "abcdefg1", field: value}
    response = auth_client.post("/api/auth/login", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


def test_huge_body_is_413(auth_client) -> None:
    response = post_raw(auth_client, "/api/auth/login", b'{"email": "' + b"a" * 2_000_000 + b'"}')
    assert response.status_code == 413


def test_refresh_body_bounds(auth_client) -> None:
    response = auth_client.post("/api/auth/refresh", json={"refresh_token": "ocr_" + "a" * 200})
    assert response.status_code == 422
    assert auth_client.post("/api/auth/refresh", json={"refresh_token": 7}).status_code == 422


def test_nothing_replayable_reaches_the_logs(users, auth_client, logs) -> None:
    user = users("ops@example.com", "admin")
    body = login(auth_client, "ops@example.com").get_json()
    auth_client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    rotated = auth_client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    auth_client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})  # reuse
    auth_client.post("/api/auth/login", json={"email": "ops@example.com", "password": "nope-123"})
    auth_client.get(
        "/api/auth/me", headers={"Authorization": "Bearer " + body["access_token"][:-3] + "xyz"}
    )
    auth_client.post(
        "/api/auth/logout", json={"refresh_token": rotated.get_json()["refresh_token"]}
    )
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in logs.records)
    assert "/api/auth/login" in text  # the access log ran
    for secret in (
        TEST_PASSWORD,
        "nope-123",
        body["access_token"],
        body["access_token"].split(".")[1],
        body["refresh_token"],
        rotated.get_json()["refresh_token"],
        user.password_hash,
        "$argon2id",
    ):
        assert secret not in text
