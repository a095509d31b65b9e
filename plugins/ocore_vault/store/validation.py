"""Checking what ``put`` is given: credential names, usernames and passwords."""

from __future__ import annotations

import re

from .errors import InvalidCredential

MAX_NAME_LENGTH = 128
MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 4096
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+/-]{0,127}")


def check_name(name: object) -> str:
    """Validate a credential name: 1-128 characters, no spaces, starting alphanumeric."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidCredential(
            "a credential name is 1-128 characters: letters, digits and . _ @ : + / -, "
            "starting with a letter or digit"
        )
    return name


def username_problem(username: object) -> str | None:
    """What is wrong with a login name (None when it is fine or absent); shared with the SSH
    plugin's server records."""
    if username is None or username == "":
        return None
    if (
        not isinstance(username, str)
        or len(username) > MAX_USERNAME_LENGTH
        or not username.isprintable()
        or any(c.isspace() for c in username)
    ):
        return f"a username is up to {MAX_USERNAME_LENGTH} printable characters without spaces"
    return None


def check_username(username: object) -> str | None:
    """The login name to store (None when absent); ``InvalidCredential`` when unusable."""
    problem = username_problem(username)
    if problem:
        raise InvalidCredential(problem)
    return username or None  # type: ignore[return-value]


def password_bytes(password: object) -> bytes:
    """A password as the UTF-8 bytes to encrypt; ``InvalidCredential`` when unusable."""
    if not isinstance(password, str):
        raise InvalidCredential("a password must be text")
    if not password:
        raise InvalidCredential("the password is empty; an SSH password cannot be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidCredential(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    if "\n" in password or "\r" in password or "\x00" in password:
        raise InvalidCredential("the password contains a line break or NUL character")
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCredential("the password is not valid Unicode text") from None
