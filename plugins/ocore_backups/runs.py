"""Backup runs: the ``backup_runs`` rows from start to success or failure, pruning and
verification, and the advisory lock that lets one run of a policy happen at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text, update

from ocore_backups.errors import RunNotFound
from ocore_backups.policies import missing_tables
from ocore_backups.schema import MAX_LINE, policies, runs

#: first key of the two-key advisory lock a run holds ("bkup"); the second is the policy id
LOCK_SPACE = 0x626B7570
t = runs


@dataclass(frozen=True)
class Run:
    """One backup run; ``path`` is the destination key of its file (successes only)."""

    id: int
    policy: str
    policy_id: int
    job_id: int | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    size_bytes: int | None
    sha256: str | None
    path: str | None
    exit_status: int | None
    stderr_line: str | None
    error: str | None
    pruned_at: datetime | None
    verified_at: datetime | None
    verify_error: str | None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish (None while running)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def stored(self) -> bool:
        """Whether the run has a backup file (succeeded and not pruned)."""
        return self.status == "succeeded" and self.pruned_at is None and self.path is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (``backups list --json``)."""
        return {
            "id": self.id,
            "policy": self.policy,
            "status": self.status,
            "trigger": self.trigger,
            "job_id": self.job_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": round(self.duration_s, 3) if self.duration_s is not None else None,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "path": self.path,
            "exit_status": self.exit_status,
            "stderr_line": self.stderr_line,
            "error": self.error,
            "pruned_at": self.pruned_at.isoformat() if self.pruned_at else None,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "verify_error": self.verify_error,
        }


def _select() -> Any:
    return select(*t.c, policies.c.name.label("policy")).join(
        policies, policies.c.id == t.c.policy_id
    )


def _run(row: Any) -> Run:
    return Run(**{name: getattr(row, name) for name in Run.__dataclass_fields__})


def _line(value: str | None) -> str | None:
    return value[:MAX_LINE] if value else value


class RunStore:
    """Reads and writes ``backup_runs`` over the shared engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def policy_lock(self, policy_id: int) -> Iterator[bool]:
        """Try the policy's session advisory lock on a connection held for the block: yields
        whether it was taken (another process running the policy holds it otherwise). A dead
        worker's connection closes, which releases its lock."""
        with self.engine.connect() as conn:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:space, CAST(:id AS integer))"),
                {"space": LOCK_SPACE, "id": policy_id},
            ).scalar_one()
            conn.commit()  # a session lock outlives the transaction: no idle transaction
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:space, CAST(:id AS integer))"),
                        {"space": LOCK_SPACE, "id": policy_id},
                    )
                    conn.commit()

    def start(self, policy_id: int, trigger: str, job_id: int | None) -> Run:
        """Insert a ``running`` run (the unique index refuses a second one)."""
        with missing_tables(), self.engine.begin() as conn:
            run_id = conn.execute(
                t.insert()
                .values(policy_id=policy_id, trigger=trigger, job_id=job_id, status="running")
                .returning(t.c.id)
            ).scalar_one()
        return self.get(run_id)

    def progress(self, run_id: int, size: int) -> None:
        """Record the bytes stored so far (``backups run --wait`` shows them)."""
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == run_id).values(size_bytes=size))

    def finish(self, run_id: int, status: str, **values: Any) -> Run:
        """Mark a run succeeded or failed with its outcome (lines cut to MAX_LINE)."""
        for name in ("stderr_line", "error"):
            if name in values:
                values[name] = _line(values[name])
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == run_id)
                .values(status=status, finished_at=func.now(), **values)
            )
        return self.get(run_id)

    def interrupt_running(self, conn: Connection, policy_id: int, reason: str) -> list[int]:
        """Fail the policy's ``running`` runs (call only while holding its lock: nobody runs
        them, so their worker died); returns their ids."""
        return list(
            conn.execute(
                update(t)
                .where(t.c.policy_id == policy_id, t.c.status == "running")
                .values(status="failed", finished_at=func.now(), error=_line(reason))
                .returning(t.c.id)
            ).scalars()
        )

    def get(self, run_id: int) -> Run:
        """Run ``run_id`` or RunNotFound."""
        with missing_tables(), self.engine.connect() as conn:
            row = conn.execute(_select().where(t.c.id == run_id)).one_or_none()
        if row is None:
            raise RunNotFound(run_id)
        return _run(row)

    def by_job(self, job_id: int) -> Run | None:
        """The run a job made, if any."""
        with missing_tables(), self.engine.connect() as conn:
            row = conn.execute(
                _select().where(t.c.job_id == job_id).order_by(t.c.id.desc()).limit(1)
            ).one_or_none()
        return _run(row) if row is not None else None

    def list(self, policy: str | None = None, *, limit: int = 50) -> list[Run]:
        """The newest runs, of one policy or all."""
        query = _select().order_by(t.c.started_at.desc(), t.c.id.desc()).limit(limit)
        if policy is not None:
            query = query.where(policies.c.name == policy)
        with missing_tables(), self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query)]

    def stored(self, policy_id: int | None = None) -> list[Run]:
        """Runs with a backup file, newest first."""
        query = (
            _select()
            .where(t.c.status == "succeeded", t.c.pruned_at.is_(None))
            .order_by(t.c.finished_at.desc(), t.c.id.desc())
        )
        if policy_id is not None:
            query = query.where(t.c.policy_id == policy_id)
        with missing_tables(), self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query)]

    def mark_pruned(self, run_id: int) -> None:
        """Record that a run's file was deleted by retention."""
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == run_id).values(pruned_at=func.now()))

    def record_verification(self, run_id: int, error: str | None) -> None:
        """Store when a run was verified and what was wrong (None: it matched)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == run_id)
                .values(verified_at=func.now(), verify_error=_line(error))
            )
