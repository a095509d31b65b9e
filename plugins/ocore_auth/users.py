"""Users: e-mail (unique case-insensitively), role, Argon2id hash, disabled flag, timestamps.

Every change that must end a user's sessions (new password, disabled, revoked) also moves
``tokens_valid_after``: access tokens issued before it are refused within
``AUTH_USER_CACHE_TTL``, and the user's refresh families are revoked at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ocore_auth.errors import InvalidInput, UserExists, UserNotFound
from ocore_auth.schema import ROLES, refresh_tokens, users

MAX_EMAIL = 254


@dataclass(frozen=True)
class User:
    """One user as stored (the hash stays out of ``repr``)."""

    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    tokens_valid_after: datetime | None
    user_handle: bytes
    password_hash: str = ""

    def __repr__(self) -> str:
        return f"User(id={self.id}, email={self.email!r}, role={self.role!r})"

    def public(self) -> dict[str, Any]:
        """What the API and ``--json`` show: never the hash."""
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def normalise_email(raw: str) -> str:
    """``raw`` trimmed and checked: one ``@``, a local part and a domain, no spaces, ≤ 254."""
    email = raw.strip()
    local, at, domain = email.rpartition("@")
    if len(email) > MAX_EMAIL:
        raise InvalidInput(f"the e-mail address is longer than {MAX_EMAIL} characters")
    if not at or not local or not domain or any(c.isspace() for c in email) or "@" in domain:
        raise InvalidInput("not an e-mail address: expected name@domain, e.g. ops@example.com")
    return email


def check_role(role: str) -> str:
    """``role`` if it is one of the three, else a clear error."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role[:32]!r}: use one of {', '.join(ROLES)}")
    return role


def _user(row: Any) -> User:
    m = row._mapping
    return User(
        m["id"],
        m["email"],
        m["role"],
        m["disabled"],
        m["created_at"],
        m["last_login_at"],
        m["tokens_valid_after"],
        bytes(m["user_handle"]),
        m["password_hash"],
    )


class UserStore:
    """SQL over the shared engine; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, email: str, role: str, password_hash: str) -> User:
        """A new user; ``UserExists`` when the address is taken (in any letter case)."""
        email, role = normalise_email(email), check_role(role)
        try:
            with self.engine.begin() as conn:
                row = conn.execute(
                    insert(users)
                    .values(
                        email=email,
                        role=role,
                        password_hash=password_hash,
                        user_handle=secrets.token_bytes(32),
                    )
                    .returning(*users.c)
                ).one()
        except IntegrityError:
            raise UserExists(f"a user with the address {email} already exists") from None
        return _user(row)

    def find(self, email: str) -> User | None:
        """The user with this address (any letter case), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users).where(func.lower(users.c.email) == email.strip().lower())
            ).first()
        return _user(row) if row else None

    def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def require(self, email: str) -> User:
        """The user with this address, else ``UserNotFound``."""
        user = self.find(email)
        if user is None:
            raise UserNotFound(f"no user has the address {email.strip()[:MAX_EMAIL]}")
        return user

    def all(self) -> list[User]:
        """Every user, by address."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(func.lower(users.c.email))).all()
        return [_user(row) for row in rows]

    def logged_in(self, user_id: int, new_hash: str | None = None) -> None:
        """Record a login (and a rehashed password when parameters changed)."""
        values: dict[str, Any] = {"last_login_at": func.now()}
        if new_hash:
            values["password_hash"] = new_hash
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def change(self, email: str, *, end_sessions: bool, **values: Any) -> User:
        """Update the user's columns; ``end_sessions`` also ends every session they have."""
        user = self.require(email)
        if "role" in values:
            check_role(values["role"])
        with self.engine.begin() as conn:
            if end_sessions:
                values["tokens_valid_after"] = func.now()
                revoke_all(conn, user.id)
            row = conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(updated_at=func.now(), **values)
                .returning(*users.c)
            ).one()
        return _user(row)

    def counts(self) -> dict[str, int]:
        """Users, enabled admins and live refresh families: one cheap query (health)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM auth_users) AS users,"
                    " (SELECT count(*) FROM auth_users WHERE role = 'admin' AND NOT disabled)"
                    " AS admins,"
                    " (SELECT count(DISTINCT family) FROM auth_refresh_tokens"
                    "  WHERE revoked_at IS NULL AND rotated_at IS NULL AND expires_at > now())"
                    " AS sessions"
                )
            ).one()
        return dict(row._mapping)


def revoke_all(conn: Connection, user_id: int) -> int:
    """Revoke every live refresh token of ``user_id``; how many."""
    result = conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount
