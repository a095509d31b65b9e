"""Create ssh_servers: managed servers, the vault credential each logs in with, pinned host keys.

Revision ID: ssh_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ssh_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table; ``credential`` is a foreign key to the vault's unique credential name
    (the ssh plugin requires the vault, so the vault's migrations run first)."""
    op.create_table(
        "ssh_servers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False, server_default=sa.text("22")),
        sa.Column("username", sa.Text()),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.Column("host_key", sa.Text()),
        sa.Column("host_key_pinned_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.UniqueConstraint("name", name="uq_ssh_servers_name"),
        # A credential in use cannot be deleted from the vault (it reports CredentialInUse).
        sa.ForeignKeyConstraint(
            ["credential"],
            ["vault_credentials.name"],
            name="fk_ssh_servers_credential",
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 64", name="ck_ssh_servers_name_length"),
        sa.CheckConstraint("char_length(host) BETWEEN 1 AND 253", name="ck_ssh_servers_host"),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name="ck_ssh_servers_port"),
        sa.CheckConstraint(
            "(host_key IS NULL) = (host_key_pinned_at IS NULL)", name="ck_ssh_servers_pin_time"
        ),
    )
    op.create_index("ix_ssh_servers_credential", "ssh_servers", ["credential"])


def downgrade() -> None:
    """Drop the table (managed servers and their pinned host keys)."""
    op.drop_index("ix_ssh_servers_credential", table_name="ssh_servers")
    op.drop_table("ssh_servers")
