"""The SQL behind passkey ceremonies: single-use challenges, stored credentials, their counters.

Challenges live in PostgreSQL (not in a worker's memory or a cookie), so a ceremony begun on
one gunicorn worker finishes on any other; consuming one is a single
``DELETE … WHERE challenge = … AND purpose = … AND expires_at > now() RETURNING user_id``, so
two concurrent finishes cannot both use it and an expired one is never accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ocore_auth.schema import challenges, passkeys, users

CHALLENGE_TTL = timedelta(minutes=5)  # how long a begun ceremony may take to finish
CHALLENGE_TIMEOUT_MS = int(CHALLENGE_TTL.total_seconds() * 1000)  # the browser's hint


@dataclass(frozen=True)
class StoredPasskey:
    """A registered credential with what login needs to know about its user."""

    id: int
    user_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int
    user_handle: bytes
    user_disabled: bool


@dataclass(frozen=True)
class PasskeyInfo:
    """What a user sees of one of their passkeys (never the key or its counter)."""

    id: int
    name: str
    transports: list[str]
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None


def add_challenge(conn: Connection, challenge: bytes, purpose: str, user_id: int | None) -> None:
    """Store a fresh challenge valid for ``CHALLENGE_TTL``; drop expired ones on the way."""
    conn.execute(delete(challenges).where(challenges.c.expires_at <= func.now()))
    conn.execute(
        insert(challenges).values(
            challenge=challenge,
            purpose=purpose,
            user_id=user_id,
            expires_at=func.now() + CHALLENGE_TTL,
        )
    )


def take_challenge(
    conn: Connection, challenge: bytes, purpose: str, user_id: int | None = None
) -> tuple[bool, int | None]:
    """Consume a live challenge: (found, the user it was issued for). ``user_id`` given: only
    a challenge issued to that user matches."""
    statement = delete(challenges).where(
        challenges.c.challenge == challenge,
        challenges.c.purpose == purpose,
        challenges.c.expires_at > func.now(),
    )
    if user_id is not None:
        statement = statement.where(challenges.c.user_id == user_id)
    row = conn.execute(statement.returning(challenges.c.user_id)).first()
    return (row is not None, row.user_id if row is not None else None)


def user_entity(conn: Connection, user_id: int) -> Any:
    """(email, user_handle, disabled) of a user, or None."""
    query = select(users.c.email, users.c.user_handle, users.c.disabled).where(
        users.c.id == user_id
    )
    return conn.execute(query).first()


def credentials_of_user(conn: Connection, user_id: int) -> list[tuple[bytes, list[str]]]:
    """(credential_id, transports) of every passkey of a user (for excludeCredentials)."""
    query = select(passkeys.c.credential_id, passkeys.c.transports).where(
        passkeys.c.user_id == user_id
    )
    return [(bytes(r.credential_id), list(r.transports)) for r in conn.execute(query)]


def credentials_for_email(
    conn: Connection, email: str
) -> tuple[int | None, list[tuple[bytes, list[str]]]]:
    """(user id, [(credential_id, transports)]) of the enabled user with ``email``
    (case-insensitive); (None, []) when there is none. One query whatever the answer."""
    query = (
        select(users.c.id, passkeys.c.credential_id, passkeys.c.transports)
        .select_from(users.outerjoin(passkeys, passkeys.c.user_id == users.c.id))
        .where(func.lower(users.c.email) == email.lower(), users.c.disabled.is_(False))
        .order_by(passkeys.c.id)
    )
    rows = conn.execute(query).all()
    if not rows:
        return None, []
    found = [(bytes(r.credential_id), list(r.transports)) for r in rows if r.credential_id]
    return rows[0].id, found


def passkey_by_credential(conn: Connection, credential_id: bytes) -> StoredPasskey | None:
    """The passkey with this credential ID and its user's handle and state, or None."""
    query = (
        select(
            passkeys.c.id,
            passkeys.c.user_id,
            passkeys.c.credential_id,
            passkeys.c.public_key,
            passkeys.c.sign_count,
            users.c.user_handle,
            users.c.disabled,
        )
        .select_from(passkeys.join(users, users.c.id == passkeys.c.user_id))
        .where(passkeys.c.credential_id == credential_id)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return StoredPasskey(
        id=row.id,
        user_id=row.user_id,
        credential_id=bytes(row.credential_id),
        public_key=bytes(row.public_key),
        sign_count=row.sign_count,
        user_handle=bytes(row.user_handle),
        user_disabled=row.disabled,
    )


def add_passkey(
    conn: Connection,
    *,
    user_id: int,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
    name: str,
    backed_up: bool,
) -> PasskeyInfo:
    """Insert a verified credential (IntegrityError when its credential ID exists)."""
    row = conn.execute(
        insert(passkeys)
        .values(
            user_id=user_id,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            transports=transports,
            name=name,
            backed_up=backed_up,
        )
        .returning(*_INFO_COLUMNS)
    ).one()
    return _info(row)


def record_use(
    conn: Connection, passkey_id: int, seen_count: int, new_count: int, backed_up: bool
) -> bool:
    """Store the new counter and the time of use, only if the counter is still the one the
    check saw (a concurrent login with the same counter loses); whether it was stored."""
    result = conn.execute(
        update(passkeys)
        .where(passkeys.c.id == passkey_id, passkeys.c.sign_count == seen_count)
        .values(sign_count=new_count, backed_up=backed_up, last_used_at=func.now())
    )
    return result.rowcount == 1


def count_passkeys(conn: Connection, user_id: int) -> int:
    """How many passkeys a user has."""
    query = select(func.count()).select_from(passkeys).where(passkeys.c.user_id == user_id)
    return int(conn.execute(query).scalar_one())


def list_passkeys(conn: Connection, user_id: int) -> list[PasskeyInfo]:
    """A user's passkeys, oldest first."""
    query = select(*_INFO_COLUMNS).where(passkeys.c.user_id == user_id).order_by(passkeys.c.id)
    return [_info(row) for row in conn.execute(query)]


def delete_passkey(conn: Connection, user_id: int, passkey_id: int) -> bool:
    """Delete one of the user's own passkeys; False when the user has no such passkey."""
    result = conn.execute(
        delete(passkeys).where(passkeys.c.id == passkey_id, passkeys.c.user_id == user_id)
    )
    return result.rowcount == 1


_INFO_COLUMNS = (
    passkeys.c.id,
    passkeys.c.name,
    passkeys.c.transports,
    passkeys.c.backed_up,
    passkeys.c.created_at,
    passkeys.c.last_used_at,
)


def _info(row: Any) -> PasskeyInfo:
    return PasskeyInfo(
        id=row.id,
        name=row.name,
        transports=list(row.transports),
        backed_up=row.backed_up,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )
