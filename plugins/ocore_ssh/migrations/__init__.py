"""Alembic revisions owned by the ssh plugin (version table ``alembic_version_ssh``)."""
