"""Users' registered SSH keys and viewers' grants, over the shared engine.

A key identifies exactly one user (fingerprints are unique across users); a grant lets a viewer
reach one server. Admins and operators reach every server (``may_reach``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy import exc as sa_exc

from ocore_flask.invocation import invoked
from ocore_gateway.errors import GatewayError, GrantError, KeyExists, KeyNotFound
from ocore_gateway.pubkeys import PublicKey
from ocore_gateway.schema import grants, keys

ROLES_REACHING_ALL = ("admin", "operator")


class NotMigrated(GatewayError):
    """The gateway's tables do not exist yet."""

    status = 503

    def __init__(self) -> None:
        super().__init__(f"the gateway tables do not exist; run `{invoked('db upgrade')}` first")


@contextmanager
def translate() -> Iterator[None]:
    """Turn "relation does not exist" into ``NotMigrated``; other errors pass through."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise NotMigrated() from None
        raise


@dataclass(frozen=True)
class KeyInfo:
    """A registered key as shown: never more than its public half."""

    id: int
    user_id: int
    algorithm: str
    public_key: str
    fingerprint: str
    bits: int
    comment: str | None
    created_at: datetime
    last_used_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``keys list --json``, the API)."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "algorithm": self.algorithm,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "bits": self.bits,
            "comment": self.comment,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def _key(row: Any) -> KeyInfo:
    return KeyInfo(**{name: getattr(row, name) for name in KeyInfo.__dataclass_fields__})


class KeyStore:
    """Register, list, find and remove users' public keys."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the database plugin's)."""
        self.engine = engine

    def __repr__(self) -> str:
        return "KeyStore(gateway_keys)"

    def add(self, user_id: int, key: PublicKey) -> KeyInfo:
        """Register ``key`` for ``user_id``; ``KeyExists`` when anyone has registered it."""
        values = {
            "user_id": user_id,
            "algorithm": key.algorithm,
            "public_key": key.line,
            "fingerprint": key.fingerprint,
            "bits": key.bits,
            "comment": key.comment,
        }
        try:
            with translate(), self.engine.begin() as conn:
                row = conn.execute(insert(keys).values(**values).returning(*keys.c)).one()
        except sa_exc.IntegrityError as exc:
            if getattr(exc.orig, "pgcode", None) != "23505":
                raise
            owner = self.find(key.fingerprint)
            whose = " to this user" if owner is not None and owner.user_id == user_id else ""
            raise KeyExists(f"the key {key.fingerprint} is already registered{whose}") from None
        return _key(row)

    def list(self, user_id: int | None = None) -> list[KeyInfo]:
        """Every key (of ``user_id`` when given), oldest first."""
        query = select(keys).order_by(keys.c.user_id, keys.c.id)
        if user_id is not None:
            query = query.where(keys.c.user_id == user_id)
        with translate(), self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(query)]

    def find(self, fingerprint: str) -> KeyInfo | None:
        """The key with this fingerprint, or None."""
        with translate(), self.engine.connect() as conn:
            row = conn.execute(select(keys).where(keys.c.fingerprint == fingerprint)).first()
        return _key(row) if row else None

    def remove(self, key_id: int, user_id: int | None = None) -> KeyInfo:
        """Remove key ``key_id`` (only if it is ``user_id``'s, when given); the removed key."""
        query = keys.delete().where(keys.c.id == key_id)
        if user_id is not None:
            query = query.where(keys.c.user_id == user_id)
        with translate(), self.engine.begin() as conn:
            row = conn.execute(query.returning(*keys.c)).first()
        if row is None:
            raise KeyNotFound(f"no registered SSH key has the id {key_id}")
        return _key(row)

    def touch(self, key_id: int) -> None:
        """Record that the key logged in just now."""
        with translate(), self.engine.begin() as conn:
            conn.execute(update(keys).where(keys.c.id == key_id).values(last_used_at=func.now()))


class GrantStore:
    """Which servers each viewer may reach."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the database plugin's)."""
        self.engine = engine

    def __repr__(self) -> str:
        return "GrantStore(gateway_grants)"

    def grant(self, user_id: int, server: str) -> bool:
        """Let ``user_id`` reach ``server``; False when it already could."""
        with translate(), self.engine.begin() as conn:
            exists = conn.execute(
                select(grants.c.user_id).where(
                    grants.c.user_id == user_id, grants.c.server == server
                )
            ).first()
            if exists:
                return False
            try:
                conn.execute(insert(grants).values(user_id=user_id, server=server))
            except sa_exc.IntegrityError as exc:
                if getattr(exc.orig, "pgcode", None) == "23503":
                    raise GrantError(f"there is no server named {server!r}") from None
                raise
        return True

    def revoke(self, user_id: int, server: str) -> bool:
        """Take the grant away; False when there was none."""
        with translate(), self.engine.begin() as conn:
            gone = conn.execute(
                grants.delete().where(grants.c.user_id == user_id, grants.c.server == server)
            )
        return gone.rowcount > 0

    def granted(self, user_id: int, server: str) -> bool:
        """Whether ``user_id`` holds a grant for ``server``."""
        with translate(), self.engine.connect() as conn:
            row = conn.execute(
                select(grants.c.user_id).where(
                    grants.c.user_id == user_id, grants.c.server == server
                )
            ).first()
        return row is not None

    def list(self, user_id: int | None = None) -> list[tuple[int, str, datetime]]:
        """(user id, server, granted at) of every grant (of ``user_id`` when given)."""
        query = select(grants).order_by(grants.c.user_id, grants.c.server)
        if user_id is not None:
            query = query.where(grants.c.user_id == user_id)
        with translate(), self.engine.connect() as conn:
            return [(r.user_id, r.server, r.created_at) for r in conn.execute(query)]


def may_reach(role: str, granted: bool) -> bool:
    """The access rule: admins and operators reach every server, viewers what they were granted."""
    return role in ROLES_REACHING_ALL or granted
