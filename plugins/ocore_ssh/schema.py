"""The servers table as SQLAlchemy Core sees it (the migration in ``migrations/`` owns the DDL)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, Text

TABLE_NAME = "ssh_servers"

metadata = MetaData()

servers = Table(
    TABLE_NAME,
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("host", Text, nullable=False),
    Column("port", Integer, nullable=False),
    Column("username", Text),
    Column("credential", Text, nullable=False),
    Column("host_key", Text),
    Column("host_key_pinned_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
