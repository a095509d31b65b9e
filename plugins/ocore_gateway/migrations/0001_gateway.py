"""Create the gateway tables: users' SSH keys, viewers' grants, the session audit trail, the
gateway processes' heartbeats and the host key record.

Revision ID: gateway_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gateway_0001"
down_revision = None
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def _user_fk(name: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey("auth_users.id", ondelete=ondelete, name=name)


def upgrade() -> None:
    """The gateway requires auth, vault and ssh, whose migrations run first: its keys and
    grants go with their user (and a grant with its server), audit rows outlive both."""
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column(
            "user_id", sa.BigInteger(), _user_fk("fk_gateway_keys_user", "CASCADE"), nullable=False
        ),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("fingerprint", name="uq_gateway_keys_fingerprint"),
        sa.CheckConstraint(
            "algorithm IN ('ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ssh-rsa')",
            name="ck_gateway_keys_algorithm",
        ),
        sa.CheckConstraint("char_length(comment) <= 200", name="ck_gateway_keys_comment"),
    )
    op.create_index("ix_gateway_keys_user", "gateway_keys", ["user_id"])

    op.create_table(
        "gateway_grants",
        sa.Column(
            "user_id",
            sa.BigInteger(),
            _user_fk("fk_gateway_grants_user", "CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "server",
            sa.Text(),
            sa.ForeignKey(
                "ssh_servers.name",
                onupdate="CASCADE",
                ondelete="CASCADE",
                name="fk_gateway_grants_server",
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("user_id", "server", name="pk_gateway_grants"),
    )
    op.create_index("ix_gateway_grants_server", "gateway_grants", ["server"])

    op.create_table(
        "gateway_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), _user_fk("fk_gateway_sessions_user", "SET NULL")),
        sa.Column("user_email", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("command", sa.Text()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("exit_status", sa.Integer()),
        sa.Column("exit_signal", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.CheckConstraint(
            "kind IN ('shell', 'exec', 'subsystem')", name="ck_gateway_sessions_kind"
        ),
        sa.CheckConstraint("char_length(command) <= 1000", name="ck_gateway_sessions_command"),
        sa.CheckConstraint("char_length(error) <= 500", name="ck_gateway_sessions_error"),
    )
    op.create_index("ix_gateway_sessions_started_at", "gateway_sessions", ["started_at"])
    op.create_index("ix_gateway_sessions_user", "gateway_sessions", ["user_id"])

    op.create_table(
        "gateway_heartbeats",
        sa.Column("instance", sa.Text(), primary_key=True),
        sa.Column("listen_address", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("host_key_fingerprint", sa.Text(), nullable=False),
        sa.Column("active_sessions", sa.Integer(), nullable=False),
        sa.Column("active_connections", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
    )

    op.create_table(
        "gateway_host_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column(
            "credential",
            sa.Text(),
            sa.ForeignKey(
                "vault_credentials.name",
                onupdate="CASCADE",
                ondelete="RESTRICT",
                name="fk_gateway_host_key_cred",
            ),
            nullable=False,
        ),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("id = 1", name="ck_gateway_host_key_single"),
    )


def downgrade() -> None:
    """Drop the gateway's tables (keys, grants, audit trail, heartbeats, host key record; the
    host key itself stays in the vault)."""
    op.drop_table("gateway_host_key")
    op.drop_table("gateway_heartbeats")
    op.drop_index("ix_gateway_sessions_user", table_name="gateway_sessions")
    op.drop_index("ix_gateway_sessions_started_at", table_name="gateway_sessions")
    op.drop_table("gateway_sessions")
    op.drop_index("ix_gateway_grants_server", table_name="gateway_grants")
    op.drop_table("gateway_grants")
    op.drop_index("ix_gateway_keys_user", table_name="gateway_keys")
    op.drop_table("gateway_keys")
