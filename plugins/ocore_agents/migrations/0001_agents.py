"""Create agents: one per managed server, its hashed token (and the previous one during the
rotation grace), revocation, and the last push (time, version, hostname, snapshot).

Revision ID: agents_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "agents_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table; ``server`` is a foreign key to the ssh plugin's unique server name
    (the agents plugin requires ssh, so its migrations run first): deleting a server deletes
    its agent."""
    op.create_table(
        "agents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("server", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("previous_token_hash", sa.LargeBinary()),
        sa.Column("previous_token_expires_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("token_rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_seen", sa.DateTime(timezone=True)),
        sa.Column("pushes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("version", sa.Text()),
        sa.Column("hostname", sa.Text()),
        sa.Column("snapshot", postgresql.JSONB()),
        sa.UniqueConstraint("server", name="uq_agents_server"),
        sa.UniqueConstraint("token_hash", name="uq_agents_token_hash"),
        sa.ForeignKeyConstraint(
            ["server"],
            ["ssh_servers.name"],
            name="fk_agents_server",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("octet_length(token_hash) = 32", name="ck_agents_token_hash"),
        sa.CheckConstraint(
            "octet_length(previous_token_hash) = 32", name="ck_agents_previous_token_hash"
        ),
        sa.CheckConstraint(
            "(previous_token_hash IS NULL) = (previous_token_expires_at IS NULL)",
            name="ck_agents_previous_token_expiry",
        ),
        sa.CheckConstraint("pushes >= 0", name="ck_agents_pushes"),
        sa.CheckConstraint("char_length(version) <= 64", name="ck_agents_version"),
        sa.CheckConstraint("char_length(hostname) <= 253", name="ck_agents_hostname"),
    )
    op.create_index(
        "uq_agents_previous_token_hash",
        "agents",
        ["previous_token_hash"],
        unique=True,
        postgresql_where=sa.text("previous_token_hash IS NOT NULL"),
    )
    op.create_index(
        "ix_agents_last_seen",
        "agents",
        ["last_seen"],
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    """Drop the table (agents, their token hashes and last snapshots)."""
    op.drop_index("ix_agents_last_seen", table_name="agents")
    op.drop_index("uq_agents_previous_token_hash", table_name="agents")
    op.drop_table("agents")
