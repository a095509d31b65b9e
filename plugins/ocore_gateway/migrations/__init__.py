"""Alembic revisions owned by the gateway plugin (version table ``alembic_version_gateway``)."""
