"""The servers table as SQLAlchemy Core sees it (the migration in ``migrations/`` owns the DDL)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, Table, Text

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
    # the last reachability check (task ssh.check_servers): ok, failed or unpinned, and why
    Column("last_check_at", DateTime(timezone=True)),
    Column("last_check_status", Text),
    Column("last_check_error", Text),
    # ``credential`` also references vault_credentials.name (fk_ssh_servers_credential, in the
    # migration): the vault's table belongs to the vault's metadata, not this one.
    Index("ix_ssh_servers_credential", "credential"),
)
