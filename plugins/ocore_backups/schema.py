"""The backup tables as SQLAlchemy Core sees them (the migration in ``migrations/`` owns the DDL).

``backup_policies.server`` also references ``ssh_servers.name`` (fk_backup_policies_server, in
the migration): that table belongs to the ssh plugin's metadata, not this one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Interval,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

STATUSES = ("running", "succeeded", "failed")
TRIGGERS = ("schedule", "manual")
MAX_LINE = 500  # the stored stderr line and error message

metadata = MetaData()

policies = Table(
    "backup_policies",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("server", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("restore_command", Text, nullable=False),
    Column("schedule", Text, nullable=False),
    Column("max_age", Interval, nullable=False),
    Column("grace", Interval, nullable=False),
    Column("keep_last", Integer),
    Column("keep_within", Interval),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # the last cron tick a run was queued for (the creation time before the first one)
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    # the job queued for the policy and not finished yet: the queueing lock (see tasks.py)
    Column("pending_job_id", BigInteger),
    UniqueConstraint("name", name="uq_backup_policies_name"),
    Index("ix_backup_policies_server", "server"),
)

runs = Table(
    "backup_runs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "policy_id",
        BigInteger,
        ForeignKey("backup_policies.id", name="fk_backup_runs_policy", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("job_id", BigInteger),
    Column("trigger", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("size_bytes", BigInteger),
    Column("sha256", Text),
    Column("path", Text),
    Column("exit_status", Integer),
    Column("stderr_line", Text),
    Column("error", Text),
    Column("pruned_at", DateTime(timezone=True)),
    Column("verified_at", DateTime(timezone=True)),
    Column("verify_error", Text),
    Index("ix_backup_runs_policy_started", "policy_id", "started_at"),
    Index("ix_backup_runs_job", "job_id"),
    # at most one running run per policy, whatever happens to the advisory lock
    Index(
        "uq_backup_runs_one_running",
        "policy_id",
        unique=True,
        postgresql_where=text("status = 'running'"),
    ),
)
