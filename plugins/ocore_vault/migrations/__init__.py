"""Alembic revisions owned by the vault plugin (version table ``alembic_version_vault``)."""
