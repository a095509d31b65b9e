"""First-party plugin ``database``: PostgreSQL for the whole app."""

from ocore_database.plugin import DatabasePlugin

plugin = DatabasePlugin()
