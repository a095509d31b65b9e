"""Alembic revisions owned by the auth plugin (version table ``alembic_version_auth``)."""
