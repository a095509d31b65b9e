"""Alembic environment shared by every plugin's migrations: the connection and the plugin's own
version table come from ``ocore_database.migrations`` (no alembic.ini, no URL in files)."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=config.attributes["version_table"],
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
