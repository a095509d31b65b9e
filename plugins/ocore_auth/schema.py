"""The auth tables as SQLAlchemy Core sees them (the migration in ``migrations/`` owns the DDL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

ROLES = ("viewer", "operator", "admin")  # ascending: each role may do what those before it may

metadata = MetaData()

users = Table(
    "auth_users",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("email", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("user_handle", LargeBinary, nullable=False),
    Column("tokens_valid_after", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
    UniqueConstraint("user_handle", name="uq_auth_users_user_handle"),
)

Index("uq_auth_users_email", func.lower(users.c.email), unique=True)

refresh_tokens = Table(
    "auth_refresh_tokens",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_refresh_user"),
        nullable=False,
    ),
    Column("family", UUID(as_uuid=True), nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    UniqueConstraint("token_hash", name="uq_auth_refresh_token_hash"),
    Index("ix_auth_refresh_family", "family"),
    Index("ix_auth_refresh_user", "user_id"),
)

passkeys = Table(
    "auth_passkeys",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_passkeys_user"),
        nullable=False,
    ),
    Column("credential_id", LargeBinary, nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", ARRAY(Text), nullable=False),
    Column("name", Text, nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    UniqueConstraint("credential_id", name="uq_auth_passkeys_credential_id"),
    Index("ix_auth_passkeys_user", "user_id"),
)

challenges = Table(
    "auth_challenges",
    metadata,
    Column("challenge", LargeBinary, primary_key=True),
    Column("purpose", Text, nullable=False),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("auth_users.id", ondelete="CASCADE", name="fk_auth_challenges_user"),
    ),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_auth_challenges_expires", "expires_at"),
)

throttle = Table(
    "auth_throttle",
    metadata,
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
    Column("blocked_until", DateTime(timezone=True)),
)
