"""The agents table as SQLAlchemy Core sees it (the migration in ``migrations/`` owns the DDL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

TABLE_NAME = "agents"

metadata = MetaData()

agents = Table(
    TABLE_NAME,
    metadata,
    Column("id", BigInteger, primary_key=True),
    # the managed server this agent runs on: also a foreign key to ssh_servers.name
    # (fk_agents_server, in the migration; ON DELETE CASCADE): that table is the ssh plugin's
    Column("server", Text, nullable=False),
    # SHA-256 of the token (``oca_`` + 256 random bits): the token itself is never stored
    Column("token_hash", LargeBinary, nullable=False),
    # the token replaced by the last rotation, valid until ``previous_token_expires_at``
    Column("previous_token_hash", LargeBinary),
    Column("previous_token_expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("token_rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    # the last accepted push: when, what the agent said about itself, its whole snapshot
    Column("last_seen", DateTime(timezone=True)),
    Column("pushes", BigInteger, nullable=False),
    Column("version", Text),
    Column("hostname", Text),
    Column("snapshot", JSONB),
    UniqueConstraint("server", name="uq_agents_server"),
    UniqueConstraint("token_hash", name="uq_agents_token_hash"),
    Index(
        "uq_agents_previous_token_hash",
        "previous_token_hash",
        unique=True,
        postgresql_where=text("previous_token_hash IS NOT NULL"),
    ),
    # health's "worst few": the live agents by last push, oldest first
    Index("ix_agents_last_seen", "last_seen", postgresql_where=text("revoked_at IS NULL")),
)
