"""Alembic revisions owned by the backups plugin (version table ``alembic_version_backups``)."""
