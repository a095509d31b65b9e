"""procrastinate 3.10.0's schema (baked: procrastinate-3.10.0.sql) and jobs_errors, the failure
reasons procrastinate does not keep.

A later procrastinate release arrives as a new revision applying its migration files
(procrastinate/sql/migrations/) on top of this; tests/plugins/ocore_jobs/test_schema_canary.py
fails until it does.

Revision ID: jobs_0001
Revises:
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "jobs_0001"
down_revision = None
branch_labels = None
depends_on = None

PROCRASTINATE_VERSION = "3.10.0"
SCHEMA_SQL = Path(__file__).with_name(f"procrastinate-{PROCRASTINATE_VERSION}.sql")

_DROP_PROCRASTINATE = r"""
DROP TABLE IF EXISTS procrastinate_periodic_defers, procrastinate_events, procrastinate_jobs,
    procrastinate_workers CASCADE;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%' LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || r.signature || ' CASCADE';
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\_%'
               AND t.typtype IN ('c', 'e') LOOP
        EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(r.typname) || ' CASCADE';
    END LOOP;
END;
$$;
"""


def _run_script(sql: str) -> None:
    """Run a multi-statement script on the migration's connection (in its transaction) through
    the driver's cursor, with no parameter parsing: the SQL has ``%`` and ``:`` of its own."""
    cursor = op.get_bind().connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def upgrade() -> None:
    """procrastinate's tables, types, functions and triggers; then jobs_errors."""
    _run_script(SCHEMA_SQL.read_text(encoding="utf-8"))
    op.create_table(
        "jobs_errors",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(128), nullable=False),
        sa.Column("queue_name", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "failed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["procrastinate_jobs.id"], name="fk_jobs_errors_job", ondelete="CASCADE"
        ),
        sa.CheckConstraint("char_length(reason) <= 500", name="ck_jobs_errors_reason_length"),
    )
    op.create_index("ix_jobs_errors_job_id", "jobs_errors", ["job_id"])
    op.create_index("ix_jobs_errors_failed_at", "jobs_errors", ["failed_at"])


def downgrade() -> None:
    """Drop jobs_errors and everything procrastinate created (every job is lost)."""
    op.drop_table("jobs_errors")
    _run_script(_DROP_PROCRASTINATE)
