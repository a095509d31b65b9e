"""Login throttling per account and per client address, with growing delays answered 429 and
``Retry-After``, before any password work; unknown accounts are throttled alike."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import text

import ocore_auth
from ocore_auth.testing import TEST_PASSWORD, build_auth_app, login, truncate
from ocore_auth.throttle import Throttle
from ocore_flask.app import close_app


@pytest.fixture(scope="module")
def throttled_app(auth_env):
    app = build_auth_app(
        {**auth_env, "AUTH_LOGIN_FREE_ATTEMPTS": "3", "AUTH_LOGIN_MAX_DELAY": "4s"}
    )
    yield app
    close_app(app)


@pytest.fixture
def client(throttled_app):
    truncate(throttled_app)
    ocore_auth.auth(throttled_app).add_user("ops@example.com", "operator", TEST_PASSWORD)
    return throttled_app.test_client()


def wrong(client, email: str = "ops@example.com", address: str = "10.0.0.1"):
    return client.post(
        "/api/auth/login",
        json={"email": email, "password": "wrong-pass-1"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_free_attempts_then_429_with_retry_after(client) -> None:
    assert [wrong(client).status_code for _ in range(3)] == [401, 401, 401]
    fourth = wrong(client)  # the 4th failure itself is counted and blocks the next
    assert fourth.status_code == 401
    blocked = wrong(client)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 4
    assert "try again in" in blocked.get_json()["message"]


def test_even_the_right_password_waits_while_blocked(client) -> None:
    for _ in range(4):
        wrong(client)
    right = client.post(
        "/api/auth/login",
        json={"email": "ops@example.com", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert right.status_code == 429


def test_delays_grow_and_are_capped(throttled_app, client) -> None:
    engine = ocore_auth.auth(throttled_app).engine
    throttle = Throttle(engine, 3, timedelta(seconds=4))
    waits = []
    for _ in range(8):
        throttle.failed("cap@example.com", "10.9.9.9")
        with engine.connect() as conn:
            waits.append(
                conn.execute(
                    text(
                        "SELECT extract(epoch FROM blocked_until - last_failure_at)"
                        " FROM auth_throttle WHERE key = 'account:cap@example.com'"
                    )
                ).scalar()
            )
    assert waits[:3] == [None, None, None]
    assert [round(float(w)) for w in waits[3:]] == [1, 2, 4, 4, 4]


def test_block_expires(client) -> None:
    for _ in range(4):
        wrong(client)
    assert wrong(client).status_code == 429
    time.sleep(1.1)
    ok = client.post(
        "/api/auth/login",
        json={"email": "ops@example.com", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert ok.status_code in (200, 429)  # 1s after the 4th failure; retry once more
    if ok.status_code == 429:
        time.sleep(int(ok.headers["Retry-After"]))
        ok = login(client, "ops@example.com")
    assert ok.status_code == 200


def test_success_clears_the_account_counter(client) -> None:
    for _ in range(3):
        wrong(client)
    assert login(client, "ops@example.com").status_code == 200
    assert [wrong(client).status_code for _ in range(3)] == [401, 401, 401]


def test_other_accounts_and_addresses_are_not_blocked(client) -> None:
    for _ in range(5):
        wrong(client)
    assert wrong(client).status_code == 429
    assert wrong(client, address="10.0.0.2").status_code == 429  # the account is blocked
    other = wrong(client, email="other@example.com", address="10.0.0.3")
    assert other.status_code == 401


def test_one_address_trying_many_accounts_is_blocked(client) -> None:
    # 4 x free attempts per address (12), spread over accounts that never reach their own limit
    codes = [
        wrong(client, email=f"user{i}@example.com", address="10.7.7.7").status_code
        for i in range(14)
    ]
    assert codes[:12] == [401] * 12
    assert 429 in codes[12:]


def test_unknown_accounts_are_throttled_like_known_ones(client) -> None:
    known = [wrong(client, "ops@example.com", "10.1.0.1").status_code for _ in range(5)]
    unknown = [wrong(client, "ghost@example.com", "10.1.0.2").status_code for _ in range(5)]
    assert known == unknown == [401, 401, 401, 401, 429]


def test_unknown_account_costs_the_same_argon2_work(client) -> None:
    def timed(email: str) -> float:
        started = time.perf_counter()
        client.post(
            "/api/auth/login",
            json={"email": email, "password": "wrong-pass-1"},
            environ_base={"REMOTE_ADDR": f"10.2.{len(email)}.{int(started * 1000) % 250}"},
        )
        return time.perf_counter() - started

    samples = []
    for _ in range(3):
        samples.append((timed("ops@example.com"), timed("ghost-user@example.com")))
    known = min(k for k, _ in samples)
    unknown = min(u for _, u in samples)
    assert unknown > 0.5 * known and known > 0.5 * unknown
