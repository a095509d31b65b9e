"""Canary: the schema revision jobs_0001 applies is the one the installed procrastinate expects.

The revision bakes procrastinate 3.10.0's ``schema.sql``; ``setup.py`` pins that release. Before
moving the pin, run this file against the new release: when procrastinate ships a migration
(``procrastinate/sql/migrations``) or changes its schema, a failure names it, and the fix is a
new revision of the jobs plugin applying those migration files.
"""

from __future__ import annotations

import importlib.metadata
import re
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

import ocore_database
import ocore_jobs
from ocore_database import migrations
from ocore_database.testing import sqlalchemy_url

MIGRATIONS = Path(ocore_jobs.__file__).parent / "migrations"
BAKED = MIGRATIONS / "procrastinate-3.10.0.sql"
#: procrastinate's newest migration when the schema was baked
NEWEST_MIGRATION = "03.04.00_50_post_add_retry_failed_job_procedure.sql"
PLUGINS = [ocore_database.plugin, ocore_jobs.plugin]


def test_the_installed_procrastinate_is_the_baked_release():
    assert importlib.metadata.version("procrastinate") == "3.10.0"
    installed = (resources.files("procrastinate.sql") / "schema.sql").read_text("utf-8")
    assert installed == BAKED.read_text("utf-8"), "procrastinate's schema.sql changed"
    shipped = sorted(
        p.name
        for p in resources.files("procrastinate.sql.migrations").iterdir()
        if p.name.endswith(".sql")
    )
    assert shipped[-1] == NEWEST_MIGRATION, f"new procrastinate migrations: {shipped[-3:]}"


def test_the_revision_gives_procrastinate_every_function_its_queries_call(database_url: str):
    queries = (resources.files("procrastinate.sql") / "queries.sql").read_text("utf-8")
    called = set(re.findall(r"\b(procrastinate_[a-z_]+_v\d+)\s*\(", queries))
    assert len(called) >= 10
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            defined = set(
                conn.execute(
                    text("SELECT proname FROM pg_proc WHERE proname LIKE 'procrastinate%'")
                ).scalars()
            )
            tables = set(inspect(conn).get_table_names())
        assert called <= defined, called - defined
        assert {
            "procrastinate_jobs",
            "procrastinate_events",
            "procrastinate_workers",
            "procrastinate_periodic_defers",
            "jobs_errors",
        } <= tables
    finally:
        engine.dispose()


def test_the_revision_upgrades_downgrades_and_upgrades_again(empty_database: str):
    engine = create_engine(sqlalchemy_url(empty_database))
    try:
        assert migrations.upgrade(engine, PLUGINS) == [
            "jobs: empty -> jobs_0001",
        ]
        from alembic import command

        (item,) = [m for m in migrations.collect(PLUGINS) if m.plugin == "jobs"]
        with engine.begin() as conn:
            command.downgrade(item.alembic_config(conn), "base")
        with engine.connect() as conn:
            left = (
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%' "
                        "UNION ALL SELECT count(*) FROM pg_type WHERE typname LIKE "
                        "'procrastinate%' UNION ALL SELECT count(*) FROM pg_class "
                        "WHERE relname LIKE 'procrastinate%'"
                    )
                )
                .scalars()
                .all()
            )
        assert left == [0, 0, 0]
        assert migrations.upgrade(engine, PLUGINS) == ["jobs: empty -> jobs_0001"]
    finally:
        engine.dispose()
