"""Create the auth tables: users, refresh-token families, passkeys, ceremony challenges and the
login throttle.

Revision ID: auth_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "auth_0001"
down_revision = None
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    """Users (email unique case-insensitively), refresh tokens stored as hashes in families,
    passkeys, single-use WebAuthn challenges and throttle counters (shared by every worker)."""
    op.create_table(
        "auth_users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("user_handle", sa.LargeBinary(), nullable=False),
        sa.Column("tokens_valid_after", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="ck_auth_users_role"),
        sa.CheckConstraint("char_length(email) BETWEEN 3 AND 254", name="ck_auth_users_email"),
        sa.UniqueConstraint("user_handle", name="uq_auth_users_user_handle"),
    )
    op.create_index("uq_auth_users_email", "auth_users", [sa.text("lower(email)")], unique=True)

    op.create_table(
        "auth_refresh_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_refresh_user"),
            nullable=False,
        ),
        sa.Column("family", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("token_hash", name="uq_auth_refresh_token_hash"),
    )
    op.create_index("ix_auth_refresh_family", "auth_refresh_tokens", ["family"])
    op.create_index("ix_auth_refresh_user", "auth_refresh_tokens", ["user_id"])

    op.create_table(
        "auth_passkeys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_passkeys_user"),
            nullable=False,
        ),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("transports", pg.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("credential_id", name="uq_auth_passkeys_credential_id"),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 64", name="ck_auth_passkeys_name"),
    )
    op.create_index("ix_auth_passkeys_user", "auth_passkeys", ["user_id"])

    op.create_table(
        "auth_challenges",
        sa.Column("challenge", sa.LargeBinary(), primary_key=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_challenges_user"),
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("purpose IN ('register', 'login')", name="ck_auth_challenges_purpose"),
    )
    op.create_index("ix_auth_challenges_expires", "auth_challenges", ["expires_at"])

    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    """Drop every auth table (users, sessions, passkeys)."""
    for table in (
        "auth_throttle",
        "auth_challenges",
        "auth_passkeys",
        "auth_refresh_tokens",
        "auth_users",
    ):
        op.drop_table(table)
