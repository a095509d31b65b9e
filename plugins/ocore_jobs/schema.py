"""The plugin's own table as SQLAlchemy Core sees it (the migration in ``migrations/`` owns the
DDL). procrastinate's tables (``procrastinate_jobs``, ``_events``, ``_workers``,
``_periodic_defers``) belong to procrastinate: the same migration applies its schema.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

ERRORS_TABLE = "jobs_errors"
#: the longest failure reason stored (one scrubbed line)
MAX_REASON = 500

metadata = MetaData()

errors = Table(
    ERRORS_TABLE,
    metadata,
    Column("id", BigInteger, primary_key=True),
    # also a foreign key to procrastinate_jobs.id, ON DELETE CASCADE (in the migration):
    # procrastinate's table is not part of this metadata
    Column("job_id", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("task_name", String(128), nullable=False),
    Column("queue_name", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Index("ix_jobs_errors_job_id", "job_id"),
    Index("ix_jobs_errors_failed_at", "failed_at"),
)
