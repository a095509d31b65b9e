"""Create backup_policies (what to back up, when, how fresh, how long kept) and backup_runs.

Revision ID: backups_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backups_0001"
down_revision = None
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    """Create both tables; ``server`` is a foreign key to the ssh plugin's unique server name
    (the backups plugin requires ssh, so its migrations run first)."""
    op.create_table(
        "backup_policies",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("server", sa.Text(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("restore_command", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("max_age", sa.Interval(), nullable=False),
        sa.Column("grace", sa.Interval(), nullable=False),
        sa.Column("keep_last", sa.Integer()),
        sa.Column("keep_within", sa.Interval()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column(
            "scheduled_for", sa.DateTime(timezone=True), nullable=False, server_default=_now()
        ),
        sa.Column("pending_job_id", sa.BigInteger()),
        sa.UniqueConstraint("name", name="uq_backup_policies_name"),
        # A server with backup policies cannot be removed until they are.
        sa.ForeignKeyConstraint(
            ["server"],
            ["ssh_servers.name"],
            name="fk_backup_policies_server",
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'", name="ck_backup_policies_name"),
        sa.CheckConstraint("max_age > interval '0'", name="ck_backup_policies_max_age"),
        sa.CheckConstraint("grace >= interval '0'", name="ck_backup_policies_grace"),
        sa.CheckConstraint("keep_last IS NULL OR keep_last >= 1", name="ck_backup_policies_keep"),
        sa.CheckConstraint(
            "keep_within IS NULL OR keep_within > interval '0'",
            name="ck_backup_policies_keep_within",
        ),
    )
    op.create_index("ix_backup_policies_server", "backup_policies", ["server"])
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger()),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("sha256", sa.Text()),
        sa.Column("path", sa.Text()),
        sa.Column("exit_status", sa.Integer()),
        sa.Column("stderr_line", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("pruned_at", sa.DateTime(timezone=True)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("verify_error", sa.Text()),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["backup_policies.id"],
            name="fk_backup_runs_policy",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name="ck_backup_runs_status"
        ),
        sa.CheckConstraint("trigger IN ('schedule', 'manual')", name="ck_backup_runs_trigger"),
        # a success has its file, size and checksum; only a finished run has a finish time
        sa.CheckConstraint(
            "status <> 'succeeded' OR (path IS NOT NULL AND sha256 IS NOT NULL "
            "AND size_bytes IS NOT NULL)",
            name="ck_backup_runs_success",
        ),
        sa.CheckConstraint(
            "(status = 'running') = (finished_at IS NULL)", name="ck_backup_runs_finished"
        ),
        sa.CheckConstraint(
            "char_length(stderr_line) <= 500 AND char_length(error) <= 500 "
            "AND char_length(verify_error) <= 500",
            name="ck_backup_runs_lines",
        ),
    )
    op.create_index("ix_backup_runs_policy_started", "backup_runs", ["policy_id", "started_at"])
    op.create_index("ix_backup_runs_job", "backup_runs", ["job_id"])
    op.create_index(
        "uq_backup_runs_one_running",
        "backup_runs",
        ["policy_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    """Drop both tables (the stored backup files stay where they are)."""
    op.drop_table("backup_runs")
    op.drop_table("backup_policies")
