"""Argon2id with oCore's parameters (m=19456 KiB, t=2, p=1, 16-byte salt, PHC string), the
password rule, bounded input, rehash on login when the parameters change."""

from __future__ import annotations

import base64

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select

import ocore_auth
from ocore_auth.passwords import hash_password, password_problem, verify_password
from ocore_auth.schema import users as users_table
from ocore_auth.testing import TEST_PASSWORD, login


def test_phc_string_has_the_documented_parameters() -> None:
    phc = hash_password("correct horse 1")
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    salt_b64 = phc.split("$")[4]
    assert len(base64.b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))) == 16
    assert verify_password(phc, "correct horse 1")
    assert not verify_password(phc, "correct horse 2")


def test_unknown_user_costs_a_verification_and_fails() -> None:
    assert verify_password(None, "anything 1") is False


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1", "too short"),
        ("abcdefghij", "letter and a digit"),
        ("1234567890", "letter and a digit"),
        ("a1" * 513, "too long"),
    ],
)
def test_password_rule_names_itself(password: str, why: str) -> None:
    problem = password_problem(password)
    assert problem and why in problem
    assert "at least 8 characters with at least one letter and one digit" in problem


@pytest.mark.parametrize("password", ["abcdefg1", "pässwörd9", "Пароль2024"])
def test_good_passwords_pass(password: str) -> None:
    assert password_problem(password) is None


def test_over_long_password_is_refused_before_hashing() -> None:
    assert verify_password(hash_password("abcdefg1"), "a1" * 600) is False


def test_login_rehashes_old_parameters(users, auth_client) -> None:
    user = users("old@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    engine = ocore_auth.auth(auth_client.application).engine
    with engine.begin() as conn:
        conn.execute(
            users_table.update()
            .where(users_table.c.id == user.id)
            .values(password_hash=weak.hash(TEST_PASSWORD))
        )
    assert login(auth_client, "old@example.com").status_code == 200
    with engine.connect() as conn:
        stored = conn.execute(
            select(users_table.c.password_hash).where(users_table.c.id == user.id)
        ).scalar()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert login(auth_client, "old@example.com").status_code == 200
