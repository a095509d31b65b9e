"""ssh_servers: the outcome of the last reachability check (task ssh.check_servers).

Revision ID: ssh_0002
Revises: ssh_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ssh_0002"
down_revision = "ssh_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """When the server was last checked, how it went (ok, failed, unpinned) and why not ok."""
    op.add_column("ssh_servers", sa.Column("last_check_at", sa.DateTime(timezone=True)))
    op.add_column("ssh_servers", sa.Column("last_check_status", sa.Text()))
    op.add_column("ssh_servers", sa.Column("last_check_error", sa.Text()))
    op.create_check_constraint(
        "ck_ssh_servers_last_check_status",
        "ssh_servers",
        "last_check_status IN ('ok', 'failed', 'unpinned')",
    )
    op.create_check_constraint(
        "ck_ssh_servers_last_check_error",
        "ssh_servers",
        "char_length(last_check_error) <= 500",
    )


def downgrade() -> None:
    """Drop the check columns."""
    op.drop_constraint("ck_ssh_servers_last_check_error", "ssh_servers", type_="check")
    op.drop_constraint("ck_ssh_servers_last_check_status", "ssh_servers", type_="check")
    op.drop_column("ssh_servers", "last_check_error")
    op.drop_column("ssh_servers", "last_check_status")
    op.drop_column("ssh_servers", "last_check_at")
