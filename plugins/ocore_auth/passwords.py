"""Password hashing (Argon2id with oCore's documented parameters) and the password rule.

Inputs are bounded before any hashing, so a megabyte "password" costs nothing; an unknown
e-mail is answered after verifying against a dummy hash of the same parameters, so it costs the
same work as a wrong password (no user enumeration by timing).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# oCore's parameters: m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte hash, PHC string.
MEMORY_KIB = 19456
TIME_COST = 2
PARALLELISM = 1
SALT_BYTES = 16
HASH_BYTES = 32

MIN_LENGTH = 8
MAX_LENGTH = 1024  # characters; longer is refused before hashing
RULE = "at least 8 characters with at least one letter and one digit (at most 1024)"


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """The one Argon2id hasher with oCore's parameters."""
    return PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_KIB,
        parallelism=PARALLELISM,
        hash_len=HASH_BYTES,
        salt_len=SALT_BYTES,
        type=Type.ID,
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` breaks the rule (a sentence naming the rule), or None."""
    if len(password) > MAX_LENGTH:
        return f"the password is too long: {RULE}"
    if len(password) < MIN_LENGTH:
        return f"the password is too short: {RULE}"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return f"the password needs a letter and a digit: {RULE}"
    return None


def hash_password(password: str) -> str:
    """The PHC string of ``password`` (``$argon2id$v=19$m=19456,t=2,p=1$…``)."""
    return hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("ocore dummy password 0")


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash (unknown user) the same
    Argon2 work is done against a dummy hash and False returned."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than today's (rehash on login)."""
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
