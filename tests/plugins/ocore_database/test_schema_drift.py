"""Every plugin's SQLAlchemy ``schema.metadata`` matches what its migrations create: the two
declarations of a table cannot drift apart unnoticed (Alembic's ``compare_metadata``).

A foreign key to another plugin's table is left to the migration (that table lives in the
other plugin's metadata), so it is not compared here."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine

from ocore_database.testing import first_party_plugins, sqlalchemy_url
from ocore_flask.manager import PluginManager


def schemas() -> list[tuple[str, MetaData]]:
    """(plugin, metadata) for each first-party plugin with migrations and a ``schema`` module."""
    manager = PluginManager.of(first_party_plugins())
    found = []
    for plugin in manager.active:
        if manager.implements(plugin, "migrations"):
            package = Path(manager.call(plugin, "migrations")).parent.name
            found.append((plugin.name, import_module(f"{package}.schema").metadata))
    return found


def differences(url: str, metadata: MetaData) -> list:
    """What Alembic would change to make the database match ``metadata``, for its tables only."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _: (
                        kind != "table" or name in metadata.tables
                    ),
                    "include_object": lambda obj, name, kind, reflected, other: (
                        kind != "foreign_key_constraint"
                        or obj.elements[0].target_fullname.split(".")[0] in metadata.tables
                    ),
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_every_migrating_plugin_declares_its_schema() -> None:
    expected = {"vault", "ssh", "auth", "agents", "jobs", "backups", "gateway"}
    assert {name for name, _ in schemas()} == expected


@pytest.mark.parametrize(("plugin", "metadata"), schemas(), ids=[n for n, _ in schemas()])
def test_metadata_matches_the_migrations(database_url: str, plugin: str, metadata) -> None:
    assert differences(database_url, metadata) == []


def test_a_drifted_table_is_detected(database_url: str) -> None:
    """The check can fail: a column the migrations never created is reported."""
    (_, vault) = next(item for item in schemas() if item[0] == "vault")
    drifted = MetaData()
    for table in vault.tables.values():
        table.to_metadata(drifted)
    Table("vault_credentials", drifted, Column("extra", Integer), extend_existing=True)
    found = differences(database_url, drifted)
    assert any(diff[0] == "add_column" and diff[3].name == "extra" for diff in found)
