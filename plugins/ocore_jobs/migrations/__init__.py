"""Alembic revisions owned by the jobs plugin (version table ``alembic_version_jobs``)."""
