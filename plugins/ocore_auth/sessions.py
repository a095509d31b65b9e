"""Refresh-token families: issue, rotate (the old token stops working), reuse detection, revoke.

A login starts a family; each refresh marks the presented token rotated and issues the next one
in the same family, valid ``JWT_REFRESH_EXPIRY`` from then. Presenting a token that was already
rotated means two parties hold it (one of them stole it): the whole family is revoked, as
OAuth 2.1 (§4.3.1, refresh token rotation) recommends. Rotation is one conditional UPDATE, so
two concurrent refreshes of the same token cannot both succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, and_, func, insert, select, update

from ocore_auth.schema import refresh_tokens
from ocore_auth.tokens import new_refresh_token, refresh_hash


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked or reused (``reused`` says which)."""

    def __init__(self, reason: str, *, reused: bool = False) -> None:
        super().__init__(reason)
        self.reused = reused


@dataclass(frozen=True)
class Rotation:
    """A successful rotation: whose token it was and the new one."""

    user_id: int
    family: uuid.UUID
    token: str


class RefreshStore:
    """Refresh tokens over the shared engine (hashes only)."""

    def __init__(self, engine: Engine, lifetime: timedelta) -> None:
        self.engine = engine
        self.lifetime = lifetime

    def start(self, user_id: int) -> tuple[uuid.UUID, str]:
        """A new family for ``user_id``: its id and first token."""
        token = new_refresh_token()
        with self.engine.begin() as conn:
            # Forget this user's long-dead rows while we are here (no sweeper needed).
            conn.execute(
                refresh_tokens.delete().where(
                    refresh_tokens.c.user_id == user_id,
                    refresh_tokens.c.expires_at < func.now() - timedelta(days=1),
                )
            )
            family = uuid.uuid4()
            self._insert(conn, user_id, family, token)
        return family, token

    def _insert(self, conn, user_id: int, family: uuid.UUID, token: str) -> None:
        conn.execute(
            insert(refresh_tokens).values(
                user_id=user_id,
                family=family,
                token_hash=refresh_hash(token),
                expires_at=func.now() + self.lifetime,
            )
        )

    def rotate(self, token: str) -> Rotation:
        """Rotate ``token``; ``RefreshRefused`` (reuse revokes the family first)."""
        digest = refresh_hash(token)
        if digest is None:
            raise RefreshRefused("not a refresh token")
        live = and_(
            refresh_tokens.c.token_hash == digest,
            refresh_tokens.c.rotated_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > func.now(),
        )
        with self.engine.begin() as conn:
            row = conn.execute(
                update(refresh_tokens)
                .where(live)
                .values(rotated_at=func.now())
                .returning(refresh_tokens.c.user_id, refresh_tokens.c.family)
            ).first()
            if row is not None:
                new = new_refresh_token()
                self._insert(conn, row.user_id, row.family, new)
                return Rotation(row.user_id, row.family, new)
            known = conn.execute(
                select(
                    refresh_tokens.c.family,
                    refresh_tokens.c.rotated_at,
                    refresh_tokens.c.revoked_at,
                ).where(refresh_tokens.c.token_hash == digest)
            ).first()
            if known is None:
                raise RefreshRefused("unknown refresh token")
            if known.rotated_at is not None:
                self._revoke_family(conn, known.family)
                reused = RefreshRefused("refresh token reused: the session is revoked", reused=True)
            elif known.revoked_at is not None:
                reused = RefreshRefused("refresh token revoked")
            else:
                reused = RefreshRefused("refresh token expired")
        raise reused

    def revoke(self, token: str) -> bool:
        """Revoke the family of ``token`` (logout); whether it was known."""
        digest = refresh_hash(token)
        if digest is None:
            return False
        with self.engine.begin() as conn:
            family = conn.execute(
                select(refresh_tokens.c.family).where(refresh_tokens.c.token_hash == digest)
            ).scalar()
            if family is None:
                return False
            self._revoke_family(conn, family)
        return True

    def family_revoked(self, family: str) -> bool:
        """Whether the session ``family`` was revoked (or never existed)."""
        try:
            key = uuid.UUID(family)
        except ValueError:
            return True
        with self.engine.connect() as conn:
            live = conn.execute(
                select(refresh_tokens.c.id)
                .where(refresh_tokens.c.family == key, refresh_tokens.c.revoked_at.is_(None))
                .limit(1)
            ).first()
        return live is None

    @staticmethod
    def _revoke_family(conn, family: uuid.UUID) -> None:
        conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
