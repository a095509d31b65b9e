"""The audit trail (one row per session) and the gateway processes' heartbeat rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_gateway.schema import heartbeats, sessions
from ocore_gateway.store import translate

MAX_COMMAND = 1000
MAX_ERROR = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class SessionRecord:
    """One audited session: who, with which key, to which server, from where, what and how much."""

    id: int
    user_id: int | None
    user_email: str
    key_fingerprint: str
    target: str
    client_address: str
    kind: str
    command: str | None
    started_at: datetime
    ended_at: datetime | None
    bytes_in: int
    bytes_out: int
    exit_status: int | None
    exit_signal: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able row (``gateway sessions --json``)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["started_at"] = _iso(self.started_at)
        data["ended_at"] = _iso(self.ended_at)
        return data


class AuditStore:
    """Open and close session rows; list the latest."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the database plugin's)."""
        self.engine = engine

    def __repr__(self) -> str:
        return "AuditStore(gateway_sessions)"

    def open(
        self,
        *,
        user_id: int,
        user_email: str,
        key_fingerprint: str,
        target: str,
        client_address: str,
        kind: str,
        command: str | None,
    ) -> int:
        """Record that a session started; its row id."""
        values = {
            "user_id": user_id,
            "user_email": user_email,
            "key_fingerprint": key_fingerprint,
            "target": target,
            "client_address": client_address,
            "kind": kind,
            "command": command[:MAX_COMMAND] if command is not None else None,
        }
        with translate(), self.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(sessions).values(**values).returning(sessions.c.id)
                ).scalar_one()
            )

    def close(
        self,
        session_id: int,
        *,
        bytes_in: int,
        bytes_out: int,
        exit_status: int | None,
        exit_signal: str | None,
        error: str | None,
    ) -> None:
        """Record how the session ended."""
        with translate(), self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(
                    ended_at=func.now(),
                    bytes_in=bytes_in,
                    bytes_out=bytes_out,
                    exit_status=exit_status,
                    exit_signal=exit_signal,
                    error=error[:MAX_ERROR] if error else None,
                )
            )

    def latest(self, limit: int = 50, user_id: int | None = None) -> list[SessionRecord]:
        """The newest sessions first."""
        query = select(sessions).order_by(sessions.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(sessions.c.user_id == user_id)
        with translate(), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        fields = SessionRecord.__dataclass_fields__
        return [SessionRecord(**{name: getattr(row, name) for name in fields}) for row in rows]


@dataclass(frozen=True)
class Heartbeat:
    """What a gateway process last said about itself."""

    instance: str
    listen_address: str
    pid: int
    version: str
    host_key_fingerprint: str
    active_sessions: int
    active_connections: int
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (health data)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("started_at", "beat_at", "stopped_at"):
            data[name] = _iso(data[name])
        return data


class HeartbeatStore:
    """The gateway processes' heartbeat rows (one per instance)."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the database plugin's)."""
        self.engine = engine

    def __repr__(self) -> str:
        return "HeartbeatStore(gateway_heartbeats)"

    def beat(self, instance: str, *, started_at: datetime, **values: Any) -> None:
        """Upsert this instance's row with the time now (the database's clock)."""
        row = {"instance": instance, "started_at": started_at, "beat_at": func.now(), **values}
        statement = pg_insert(heartbeats).values(**row, stopped_at=None)
        statement = statement.on_conflict_do_update(
            index_elements=[heartbeats.c.instance],
            set_={k: statement.excluded[k] for k in (*row, "stopped_at") if k != "instance"},
        )
        with translate(), self.engine.begin() as conn:
            conn.execute(statement)

    def stopped(self, instance: str) -> None:
        """Mark the instance stopped (a clean shutdown, so health fails at once)."""
        with translate(), self.engine.begin() as conn:
            conn.execute(
                update(heartbeats)
                .where(heartbeats.c.instance == instance)
                .values(stopped_at=func.now(), active_sessions=0, active_connections=0)
            )

    def latest(self) -> Heartbeat | None:
        """The newest heartbeat of a running instance, else of any instance, or None."""
        running_first = heartbeats.c.stopped_at.is_(None).desc()
        query = select(heartbeats).order_by(running_first, heartbeats.c.beat_at.desc()).limit(1)
        with translate(), self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Heartbeat(**{name: getattr(row, name) for name in Heartbeat.__dataclass_fields__})
