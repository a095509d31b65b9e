"""Alembic revisions owned by the agents plugin (version table ``alembic_version_agents``)."""
