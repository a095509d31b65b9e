"""Canary: the SQLAlchemy private (underscore) API that PgxPool relies on is still there.

PgxPool subclasses SQLAlchemy's ``Pool`` and overrides, calls and reads some of its private
hooks and attributes. ``setup.py`` pins SQLAlchemy to the minor series these checks pass on;
before widening the pin, run this file against the new release: a failure names the private
that moved, and ``ocore_database.pool`` must be adapted before anything else is trusted.
No database is needed: a fake DB-API connection stands in.
"""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.pool import ConnectionPoolEntry, Pool

import ocore_database.pool
from ocore_database.pool import PgxPool

TESTED_SERIES = "2.1"

# Hooks SQLAlchemy calls and PgxPool overrides, with their parameters (after self).
OVERRIDDEN_HOOKS = {
    "_do_get": [],
    "_do_return_conn": ["record"],
    "_should_wrap_creator": ["creator"],
}
# Pool methods PgxPool calls, with their parameters (after self).
CALLED_METHODS = {"_create_connection": []}
# Attributes of a Pool instance that PgxPool.recreate() reads.
READ_ATTRIBUTES = ["_creator", "_orig_logging_name", "_reset_on_return", "_pre_ping", "_dialect"]
# Public Pool methods PgxPool overrides on purpose; every other name must be its own.
PUBLIC_OVERRIDES = {"dispose", "recreate", "status"}


class FakeDBAPIConnection:
    """Just enough of a DB-API connection for SQLAlchemy's pool machinery."""

    closed = False

    def rollback(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def plain_pool() -> Pool:
    """SQLAlchemy's base Pool, as PgxPool's constructor leaves it before its own state."""
    return Pool(FakeDBAPIConnection)


def parameters(function: Any) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def pgx_pool(**options: Any) -> PgxPool:
    return PgxPool(FakeDBAPIConnection, ping_idle_after=3600, **options)


def test_the_installed_sqlalchemy_is_the_tested_series():
    assert sqlalchemy.__version__.startswith(TESTED_SERIES + "."), (
        f"SQLAlchemy {sqlalchemy.__version__} is not the tested {TESTED_SERIES}.x series: "
        "check every private below, then update TESTED_SERIES and the pin in setup.py"
    )


def test_connection_record_class_keeps_its_shape():
    from sqlalchemy.pool.base import _ConnectionRecord

    assert issubclass(_ConnectionRecord, ConnectionPoolEntry)
    assert parameters(_ConnectionRecord.__init__) == ["pool", "connect"]
    assert parameters(_ConnectionRecord._is_hard_or_soft_invalidated) == []
    # PgxPool keeps its bookkeeping (_pgx_deadline, _pgx_idle_since...) on the records.
    assert "__dict__" in _ConnectionRecord.__slots__
    record = _ConnectionRecord(plain_pool(), connect=False)
    record._pgx_deadline = 1.0
    assert record._is_hard_or_soft_invalidated() is True  # no DB-API connection yet


@pytest.mark.parametrize("name", sorted(OVERRIDDEN_HOOKS | CALLED_METHODS))
def test_pool_hooks_keep_their_signature(name: str):
    expected = (OVERRIDDEN_HOOKS | CALLED_METHODS)[name]
    assert callable(getattr(Pool, name, None)), f"Pool.{name} is gone"
    assert parameters(getattr(Pool, name)) == expected


def test_pool_constructor_still_takes_dispatch_and_recycle():
    names = parameters(Pool.__init__)
    for name in ("creator", "recycle", "echo", "logging_name", "reset_on_return", "dialect"):
        assert name in names
    assert "pre_ping" in names and "_dispatch" in names


@pytest.mark.parametrize("name", READ_ATTRIBUTES)
def test_pool_instance_attributes_read_by_recreate_exist(name: str):
    assert hasattr(plain_pool(), name), f"Pool instances no longer have {name}"


def test_creator_setter_still_goes_through_should_wrap_creator():
    assert isinstance(Pool.__dict__.get("_creator"), property)
    assert Pool.__dict__["_creator"].fset is not None
    seen: list[Any] = []

    class Spy(Pool):
        def _should_wrap_creator(self, creator: Any) -> Any:
            seen.append(creator)
            return super()._should_wrap_creator(creator)

    Spy(FakeDBAPIConnection)
    assert seen == [FakeDBAPIConnection]


def _own_names() -> set[str]:
    """Every method and ``self.X`` attribute the PgxPool package defines for the pool."""
    names: set[str] = set()
    for cls in PgxPool.__mro__:
        if cls.__module__.startswith("ocore_database.pool"):
            names.update(k for k in vars(cls) if not k.startswith("__"))
    package = Path(ocore_database.pool.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def test_pgxpool_names_do_not_collide_with_pool_internals():
    own = _own_names() - set(OVERRIDDEN_HOOKS) - PUBLIC_OVERRIDES
    assert "_max_conns" in own and "_maintain" in own  # the scan found the package
    sqlalchemy_names = set(dir(Pool)) | set(vars(plain_pool()))
    assert sorted(own & sqlalchemy_names) == []


def test_checkout_and_return_go_through_the_overridden_hooks():
    pool = pgx_pool(max_conns=2)
    try:
        first = pool.connect()  # SQLAlchemy -> _do_get -> _create_connection -> creator
        stat = pool.stat()
        assert (stat.acquired_conns, stat.new_conns_count) == (1, 1)  # stamped on creation
        first.close()  # SQLAlchemy -> _do_return_conn
        assert (pool.stat().idle_conns, pool.stat().acquired_conns) == (1, 0)
        second = pool.connect()
        assert (pool.stat().new_conns_count, pool.stat().acquire_count) == (1, 2)
        second.close()
    finally:
        pool.close()


def test_recreate_rebuilds_from_the_private_attributes():
    pool = pgx_pool(max_conns=3, min_conns=1, logging_name="canary", pre_ping=True)
    fresh = pool.recreate()
    try:
        assert type(fresh) is PgxPool
        assert (fresh.max_conns, fresh.min_conns) == (3, 1)
        assert fresh._orig_logging_name == "canary" and fresh._pre_ping is True
        assert fresh._reset_on_return == pool._reset_on_return
        assert fresh._dialect is pool._dialect
    finally:
        pool.close()
        fresh.close()


def test_create_engine_still_passes_pgxpool_arguments():
    # create_engine() collects pool arguments from the pool class's __init__ (co_argcount).
    engine = create_engine(
        "postgresql+psycopg2://canary@127.0.0.1:9/canary",
        poolclass=PgxPool,
        max_conns=4,
        min_conns=2,
        pool_pre_ping=True,
        pool_logging_name="canary",
    )
    try:
        pool = engine.pool
        assert isinstance(pool, PgxPool)
        assert (pool.max_conns, pool.min_conns) == (4, 2)
        assert pool._pre_ping is True and pool._orig_logging_name == "canary"
        engine.dispose()  # Pool.dispose() then Pool.recreate(), nothing opened
        assert isinstance(engine.pool, PgxPool) and engine.pool is not pool
        assert engine.pool.max_conns == 4
    finally:
        engine.pool.close()
        pool.close()


def test_pool_logger_keeps_the_name_the_database_plugin_configures():
    # SQLAlchemy names a pool's logger "<class module>.<class name>".
    pool = pgx_pool()
    try:
        assert isinstance(pool.logger, logging.Logger)
        assert pool.logger.name == "ocore_database.pool.PgxPool"
    finally:
        pool.close()
