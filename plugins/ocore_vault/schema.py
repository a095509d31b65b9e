"""The credentials table as SQLAlchemy Core sees it (the migration in ``migrations/`` owns DDL)."""

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
    Uuid,
)

#: The table name is part of every value's associated data: renaming the table breaks reads.
TABLE_NAME = "vault_credentials"

metadata = MetaData()

credentials = Table(
    TABLE_NAME,
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("username", Text),
    Column("secret", LargeBinary, nullable=False),
    Column("passphrase", LargeBinary),
    Column("fingerprint", Text),
    Column("key_id", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_vault_credentials_key_id", "key_id"),
)
