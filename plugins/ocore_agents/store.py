"""The ``agents`` rows: register, rotate, revoke, read, and the push itself.

A push is ONE statement in autocommit on the shared pool (``PUSH``): an UPDATE of the agent
whose token hash matches (current token, or the previous one within its grace), not revoked,
and whose last push is at least ``AGENT_PUSH_MIN_INTERVAL`` old; the same statement also looks
the token up, so a push that changed nothing is told apart (rate-limited or unknown token)
without a second round trip. Row locking makes the rate hold across processes: of two pushes
racing on one agent, the second re-checks ``last_seen`` after the first commits and matches
nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_agents.errors import (
    AgentError,
    AgentExists,
    AgentNotFound,
    AgentRevoked,
    AgentsNotMigrated,
)
from ocore_agents.schema import TABLE_NAME, agents
from ocore_agents.status import status_of, thresholds
from ocore_agents.tokens import new_token, token_hash
from ocore_flask.health.contributor import isoformat_utc
from ocore_flask.invocation import invoked

t = agents

_MATCHES = (
    "revoked_at IS NULL AND (token_hash = :hash"
    " OR (previous_token_hash = :hash AND previous_token_expires_at > now()))"
)

#: the push: one statement, one round trip (see the module docstring)
PUSH = text(
    f"""
    WITH pushed AS (
        UPDATE {TABLE_NAME}
           SET last_seen = now(), pushes = pushes + 1, version = :version,
               hostname = :hostname, snapshot = CAST(:snapshot AS jsonb)
         WHERE {_MATCHES}
           AND (last_seen IS NULL OR last_seen <= now() - make_interval(secs => :min_gap))
        RETURNING id
    )
    SELECT (SELECT id FROM pushed) AS pushed,
           known.last_seen AS last_seen, known.id IS NOT NULL AS known, now() AS now
      FROM (SELECT 1) AS one
      LEFT JOIN (SELECT id, last_seen FROM {TABLE_NAME} WHERE {_MATCHES} LIMIT 1) AS known
        ON true
    """
)

#: the health section's figures: one statement, counts by status and the worst few
SUMMARY = text(
    f"""
    SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS registered,
           count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked,
           count(*) FILTER (WHERE revoked_at IS NULL AND last_seen IS NULL) AS never,
           count(*) FILTER (WHERE revoked_at IS NULL
                              AND last_seen >= now() - make_interval(secs => :online)) AS online,
           count(*) FILTER (WHERE revoked_at IS NULL
                              AND last_seen < now() - make_interval(secs => :online)
                              AND last_seen >= now() - make_interval(secs => :stale)) AS stale,
           count(*) FILTER (WHERE revoked_at IS NULL
                              AND last_seen < now() - make_interval(secs => :stale)) AS offline,
           min(last_seen) FILTER (WHERE revoked_at IS NULL) AS oldest_last_seen,
           ARRAY(SELECT server FROM {TABLE_NAME}
                  WHERE revoked_at IS NULL
                    AND last_seen < now() - make_interval(secs => :online)
                  ORDER BY last_seen, server LIMIT :worst) AS worst,
           now() AS now
      FROM {TABLE_NAME}
    """
)

_LIST_COLUMNS = [c for c in t.c if c.name not in ("token_hash", "previous_token_hash")]


@dataclass(frozen=True)
class Agent:
    """One agent as the CLI and the API show it (no token, no hash)."""

    server: str
    status: str
    created_at: datetime
    token_rotated_at: datetime | None
    previous_token_expires_at: datetime | None
    revoked_at: datetime | None
    last_seen: datetime | None
    pushes: int
    version: str | None
    hostname: str | None
    age: timedelta | None
    snapshot: dict[str, Any] | None = None

    def to_dict(self, *, snapshot: bool = False) -> dict[str, Any]:
        """JSON-able description; ``snapshot`` adds the last push's figures."""
        data: dict[str, Any] = {
            "server": self.server,
            "status": self.status,
            "last_seen": _iso(self.last_seen),
            "last_seen_age_s": None if self.age is None else round(self.age.total_seconds(), 3),
            "version": self.version,
            "hostname": self.hostname,
            "pushes": self.pushes,
            "created_at": _iso(self.created_at),
            "token_rotated_at": _iso(self.token_rotated_at),
            "previous_token_valid_until": _iso(self.previous_token_expires_at),
            "revoked_at": _iso(self.revoked_at),
        }
        if snapshot:
            data["snapshot"] = self.snapshot
        return data


@dataclass(frozen=True)
class Issued:
    """A registration or rotation: the agent and its new token (shown once, never stored)."""

    agent: Agent
    token: str


@dataclass(frozen=True)
class PushOutcome:
    """What one push did: ``accepted``; else ``known`` (a valid token pushing too fast:
    ``retry_after`` seconds) or not (unknown, revoked or expired token)."""

    accepted: bool
    known: bool
    retry_after: float = 0.0


def _iso(moment: datetime | None) -> str | None:
    return isoformat_utc(moment) if moment is not None else None


@contextmanager
def _translate() -> Iterator[None]:
    """ "relation does not exist" becomes AgentsNotMigrated; other errors pass through."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise AgentsNotMigrated(
                f"the {TABLE_NAME} table does not exist; run `{invoked('db upgrade')}` first"
            ) from None
        raise


class AgentStore:
    """Agents over the shared engine; ``interval`` is AGENT_PUSH_INTERVAL (for statuses)."""

    def __init__(self, engine: Engine, interval: timedelta) -> None:
        """Use ``engine`` (the database plugin's); pushes run on it in autocommit."""
        self.engine = engine
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.interval = interval

    def __repr__(self) -> str:
        return f"AgentStore({TABLE_NAME})"

    def _agent(self, row: Any, now: datetime, *, snapshot: bool = False) -> Agent:
        revoked = row.revoked_at is not None
        return Agent(
            server=row.server,
            status=status_of(row.last_seen, now, self.interval, revoked=revoked),
            created_at=row.created_at,
            token_rotated_at=row.token_rotated_at,
            previous_token_expires_at=row.previous_token_expires_at,
            revoked_at=row.revoked_at,
            last_seen=row.last_seen,
            pushes=row.pushes,
            version=row.version,
            hostname=row.hostname,
            age=None if row.last_seen is None else max(now - row.last_seen, timedelta(0)),
            snapshot=row.snapshot if snapshot else None,
        )

    # -- operator actions ---------------------------------------------------------------------

    def register(self, server: str) -> Issued:
        """A new agent for ``server`` (or a fresh start for a revoked one) and its token."""
        token = new_token()
        fresh = {
            "token_hash": token_hash(token),
            "previous_token_hash": None,
            "previous_token_expires_at": None,
            "created_at": func.now(),
            "token_rotated_at": None,
            "revoked_at": None,
            "last_seen": None,
            "pushes": 0,
            "version": None,
            "hostname": None,
            "snapshot": None,
        }
        statement = pg_insert(t).values(server=server, **fresh)
        statement = statement.on_conflict_do_update(
            index_elements=[t.c.server], set_=fresh, where=t.c.revoked_at.is_not(None)
        ).returning(*_LIST_COLUMNS, func.now().label("now"))
        try:
            with _translate(), self.engine.begin() as conn:
                row = conn.execute(statement).first()
        except sa_exc.IntegrityError as exc:
            if getattr(exc.orig, "pgcode", None) != "23503":  # foreign key: no such server
                raise
            raise AgentNotFound(f"no server named {server!r}") from None
        if row is None:
            raise AgentExists(
                f"server {server!r} already has an agent; `{invoked('agents rotate-token')} "
                f"{server}` issues a new token, `{invoked('agents revoke')} {server}` ends it"
            )
        return Issued(self._agent(row, row.now), token)

    def rotate(self, server: str, grace: timedelta) -> Issued:
        """A new token for ``server``'s agent; the current one stays valid for ``grace``."""
        token = new_token()
        keep = grace > timedelta(0)
        statement = (
            update(t)
            .where(t.c.server == server, t.c.revoked_at.is_(None))
            .values(
                token_hash=token_hash(token),
                previous_token_hash=t.c.token_hash if keep else None,
                previous_token_expires_at=(func.now() + grace) if keep else None,
                token_rotated_at=func.now(),
            )
            .returning(*_LIST_COLUMNS, func.now().label("now"))
        )
        with _translate(), self.engine.begin() as conn:
            row = conn.execute(statement).first()
        if row is None:
            if self.get(server).revoked_at is not None:  # AgentNotFound when there is none
                raise AgentRevoked(
                    f"the agent of server {server!r} is revoked; "
                    f"`{invoked('agents add')} {server}` registers it again"
                )
            raise AgentError(f"the agent of server {server!r} changed meanwhile; try again")
        return Issued(self._agent(row, row.now), token)

    def revoke(self, server: str) -> Agent:
        """Revoke ``server``'s agent: its tokens (current and previous) stop working now."""
        statement = (
            update(t)
            .where(t.c.server == server)
            .values(
                revoked_at=func.coalesce(t.c.revoked_at, func.now()),
                previous_token_hash=None,
                previous_token_expires_at=None,
            )
            .returning(*_LIST_COLUMNS, func.now().label("now"))
        )
        with _translate(), self.engine.begin() as conn:
            row = conn.execute(statement).first()
        if row is None:
            raise self._not_found(server)
        return self._agent(row, row.now)

    def get(self, server: str) -> Agent:
        """``server``'s agent with its last snapshot, or AgentNotFound."""
        with _translate(), self.engine.connect() as conn:
            row = conn.execute(
                select(*_LIST_COLUMNS, func.now().label("now")).where(t.c.server == server)
            ).first()
        if row is None:
            raise self._not_found(server)
        return self._agent(row, row.now, snapshot=True)

    def list(self) -> list[Agent]:
        """Every agent (without snapshots), by server name."""
        columns = [c for c in _LIST_COLUMNS if c.name != "snapshot"]
        with _translate(), self.engine.connect() as conn:
            rows = conn.execute(
                select(*columns, func.now().label("now")).order_by(t.c.server)
            ).all()
        return [self._agent(row, row.now) for row in rows]

    @staticmethod
    def _not_found(server: str) -> AgentNotFound:
        return AgentNotFound(
            f"server {server!r} has no agent; `{invoked('agents list')}` shows the agents, "
            f"`{invoked('agents add')} {server}` registers one"
        )

    # -- the agents' side ---------------------------------------------------------------------

    def push(self, token: str, body: dict[str, Any], min_gap: timedelta) -> PushOutcome:
        """Record a push (one statement); the body was validated by the caller."""
        params = {
            "hash": token_hash(token),
            "version": body["version"],
            "hostname": body["hostname"],
            "snapshot": json.dumps(body, separators=(",", ":")),
            "min_gap": min_gap.total_seconds(),
        }
        with _translate(), self.autocommit.connect() as conn:
            row = conn.execute(PUSH, params).one()
        if row.pushed is not None:
            return PushOutcome(True, True)
        if not row.known:
            return PushOutcome(False, False)
        gap = min_gap.total_seconds()
        wait = gap
        if row.last_seen is not None:
            # A push racing this one may commit a last_seen later than this statement's now()
            # (transaction start): never ask for more than the whole gap.
            wait = min(gap, gap - (row.now - row.last_seen).total_seconds())
        return PushOutcome(False, True, max(1.0, math.ceil(wait)))

    def summary(self, worst: int) -> dict[str, Any]:
        """Counts by status, the oldest last push and up to ``worst`` names, stalest first."""
        online, stale = thresholds(self.interval)
        params = {
            "online": online.total_seconds(),
            "stale": stale.total_seconds(),
            "worst": worst,
        }
        with _translate(), self.engine.connect() as conn:
            row = conn.execute(SUMMARY, params).one()
        return dict(row._mapping)
