"""The gateway's tables as SQLAlchemy Core sees them (the migration in ``migrations/`` owns the
DDL, including the foreign keys to other plugins' tables, which are only named in comments here:
those tables belong to their owners' metadata)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: Users' SSH public keys: a key identifies one user (fingerprints are unique).
keys = Table(
    "gateway_keys",
    metadata,
    Column("id", BigInteger, primary_key=True),
    # -> auth_users.id ON DELETE CASCADE (fk_gateway_keys_user)
    Column("user_id", BigInteger, nullable=False),
    Column("algorithm", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("bits", Integer, nullable=False),
    Column("comment", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    UniqueConstraint("fingerprint", name="uq_gateway_keys_fingerprint"),
    Index("ix_gateway_keys_user", "user_id"),
)

#: Servers a viewer may reach (admins and operators reach every server).
grants = Table(
    "gateway_grants",
    metadata,
    # -> auth_users.id ON DELETE CASCADE (fk_gateway_grants_user)
    Column("user_id", BigInteger, nullable=False),
    # -> ssh_servers.name ON UPDATE/DELETE CASCADE (fk_gateway_grants_server)
    Column("server", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("user_id", "server", name="pk_gateway_grants"),
    Index("ix_gateway_grants_server", "server"),
)

#: The audit trail: one row per session (a shell, a command, an SFTP or other subsystem).
sessions = Table(
    "gateway_sessions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    # -> auth_users.id ON DELETE SET NULL (fk_gateway_sessions_user); the e-mail stays
    Column("user_id", BigInteger),
    Column("user_email", Text, nullable=False),
    Column("key_fingerprint", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("client_address", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("command", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("bytes_in", BigInteger, nullable=False),
    Column("bytes_out", BigInteger, nullable=False),
    Column("exit_status", Integer),
    Column("exit_signal", Text),
    Column("error", Text),
    Index("ix_gateway_sessions_started_at", "started_at"),
    Index("ix_gateway_sessions_user", "user_id"),
)

#: One row per gateway process (instance = host name and listen address), beaten every interval.
heartbeats = Table(
    "gateway_heartbeats",
    metadata,
    Column("instance", Text, primary_key=True),
    Column("listen_address", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", Text, nullable=False),
    Column("host_key_fingerprint", Text, nullable=False),
    Column("active_sessions", Integer, nullable=False),
    Column("active_connections", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("beat_at", DateTime(timezone=True), nullable=False),
    Column("stopped_at", DateTime(timezone=True)),
)

#: The gateway's host key: which vault credential holds it (a foreign key, so the vault refuses
#: to delete it) and its public half, readable without decrypting anything.
host_key = Table(
    "gateway_host_key",
    metadata,
    Column("id", Integer, primary_key=True),
    # -> vault_credentials.name ON UPDATE CASCADE ON DELETE RESTRICT (fk_gateway_host_key_cred)
    Column("credential", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
