"""Backup policies: the ``backup_policies`` rows, checked on the way in.

A policy names a managed server (a foreign key to ``ssh_servers.name``: a server with policies
cannot be removed), the command whose standard output is the backup, the restore command that
reads one on standard input, a cron schedule (five fields, minute resolution: the scheduler
ticks every minute), a maximum age and a grace period (freshness), and retention.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy import exc as sa_exc

from ocore_backups.errors import InvalidPolicy, NotMigrated, PolicyNotFound
from ocore_backups.schema import policies
from ocore_flask.config import Duration, DurationError, parse_duration

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_COMMAND = 4096
CRON_HELP = "five fields: minute hour day-of-month month day-of-week, e.g. '30 2 * * *'"
t = policies


@dataclass(frozen=True)
class Policy:
    """One backup policy; durations are timedeltas, ``keep_*`` None means no such limit."""

    id: int
    name: str
    server: str
    command: str
    restore_command: str
    schedule: str
    max_age: timedelta
    grace: timedelta
    keep_last: int | None
    keep_within: timedelta | None
    created_at: datetime
    updated_at: datetime
    scheduled_for: datetime
    pending_job_id: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``policy show --json``); durations in Go syntax."""
        return {
            "name": self.name,
            "server": self.server,
            "command": self.command,
            "restore_command": self.restore_command,
            "schedule": self.schedule,
            "max_age": go_duration(self.max_age),
            "grace": go_duration(self.grace),
            "keep_last": self.keep_last,
            "keep_within": go_duration(self.keep_within) if self.keep_within else None,
            "created_at": self.created_at.isoformat(),
            "next_run_at": next_run(self.schedule, self.scheduled_for).isoformat(),
        }


def go_duration(value: timedelta) -> str:
    """``26h0m0s``: a timedelta as the Go duration it was given as."""
    return str(Duration(round(value.total_seconds() * 1e6) * 1000))


def parse_policy_duration(value: str, what: str, *, allow_zero: bool = False) -> timedelta:
    """A Go duration ("26h", "90m") as a timedelta; InvalidPolicy naming ``what`` if not."""
    try:
        parsed = parse_duration(value)
    except DurationError as exc:
        raise InvalidPolicy(f"{what}: {exc}; use a Go duration such as 26h or 90m") from None
    if parsed < 0 or (parsed == 0 and not allow_zero):
        raise InvalidPolicy(f"{what} must be {'>= 0' if allow_zero else '> 0'} (it is {value})")
    return parsed.to_timedelta()


def check_schedule(schedule: str) -> str:
    """A five-field cron expression (or @hourly, @daily...); InvalidPolicy otherwise."""
    from croniter import croniter

    schedule = " ".join(schedule.split())
    fields = schedule.split(" ")
    if not schedule.startswith("@") and len(fields) != 5:
        raise InvalidPolicy(f"schedule {schedule!r} is not a cron expression: {CRON_HELP}")
    if not croniter.is_valid(schedule):
        raise InvalidPolicy(f"schedule {schedule!r} is not a cron expression: {CRON_HELP}")
    return schedule


def next_run(schedule: str, after: datetime) -> datetime:
    """The first cron tick of ``schedule`` after ``after`` (same time zone)."""
    from croniter import croniter

    return croniter(schedule, after).get_next(datetime)


def _command(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidPolicy(f"{what} must not be empty")
    if len(value) > MAX_COMMAND or "\x00" in value:
        raise InvalidPolicy(f"{what} must be at most {MAX_COMMAND} characters, without NUL")
    return value


def _policy(row: Any) -> Policy:
    return Policy(**{name: getattr(row, name) for name in Policy.__dataclass_fields__})


@contextmanager
def missing_tables() -> Iterator[None]:
    """A missing table becomes NotMigrated."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise NotMigrated() from None
        raise


class PolicyStore:
    """CRUD on ``backup_policies`` over the shared engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        name: str,
        *,
        server: str,
        command: str,
        restore_command: str,
        schedule: str,
        max_age: str,
        grace: str,
        keep_last: int | None = None,
        keep_within: str | None = None,
    ) -> Policy:
        """Check and insert a policy (the caller checked that the server exists)."""
        if not NAME_RE.fullmatch(name):
            raise InvalidPolicy(
                f"policy name {name!r} must be 1-64 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit (it names the policy's backup folder)"
            )
        if keep_last is not None and keep_last < 1:
            raise InvalidPolicy(f"--keep must be at least 1 (it is {keep_last})")
        values = {
            "name": name,
            "server": server,
            "command": _command(command, "the backup command"),
            "restore_command": _command(restore_command, "the restore command"),
            "schedule": check_schedule(schedule),
            "max_age": parse_policy_duration(max_age, "--max-age"),
            "grace": parse_policy_duration(grace, "--grace", allow_zero=True),
            "keep_last": keep_last,
            "keep_within": (
                parse_policy_duration(keep_within, "--keep-within") if keep_within else None
            ),
        }
        try:
            with missing_tables(), self.engine.begin() as conn:
                row = conn.execute(t.insert().values(**values).returning(*t.c)).one()
        except sa_exc.IntegrityError as exc:
            constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", "")
            if constraint == "uq_backup_policies_name":
                raise InvalidPolicy(f"a policy named {name!r} already exists") from None
            if constraint == "fk_backup_policies_server":
                raise InvalidPolicy(f"there is no server named {server!r}") from None
            raise
        return _policy(row)

    def get(self, name: str, conn: Connection | None = None) -> Policy:
        """Policy ``name`` or PolicyNotFound."""
        query = select(t).where(t.c.name == name)
        with missing_tables():
            if conn is not None:
                row = conn.execute(query).one_or_none()
            else:
                with self.engine.connect() as own:
                    row = own.execute(query).one_or_none()
        if row is None:
            raise PolicyNotFound(name)
        return _policy(row)

    def lock(self, conn: Connection, name: str) -> Policy:
        """Policy ``name``, its row locked until ``conn``'s transaction ends."""
        row = conn.execute(select(t).where(t.c.name == name).with_for_update()).one_or_none()
        if row is None:
            raise PolicyNotFound(name)
        return _policy(row)

    def list(self) -> list[Policy]:
        """Every policy by name."""
        with missing_tables(), self.engine.connect() as conn:
            return [_policy(row) for row in conn.execute(select(t).order_by(t.c.name))]

    def count(self) -> int:
        """How many policies exist."""
        with missing_tables(), self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t)).scalar_one()

    def remove(self, name: str) -> bool:
        """Delete a policy and its run history; False when there was none."""
        with missing_tables(), self.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.name == name)).rowcount > 0

    def set_pending(
        self, conn: Connection, policy_id: int, job_id: int | None, **more: Any
    ) -> None:
        """Record the job queued for a policy (None: none) and, e.g., ``scheduled_for``."""
        conn.execute(t.update().where(t.c.id == policy_id).values(pending_job_id=job_id, **more))
