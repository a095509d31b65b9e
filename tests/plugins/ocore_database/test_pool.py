"""PgxPool against a real embedded PostgreSQL: pgxpool's semantics, metrics and fork safety."""

from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import Engine

from ocore_database.embedded import EmbeddedPostgres
from ocore_database.pool import PgxPool, PoolClosedError, PoolStat, PoolTimeoutError
from ocore_flask.testing import wait_for

pytestmark = pytest.mark.slow

FAST = {"health_check_period": 0.1}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded server for the whole module."""
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pool") / "pg")
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture
def admin(server: EmbeddedPostgres) -> Iterator[Callable[..., list[tuple]]]:
    """Run a statement on a fresh, unpooled connection (survives server restarts)."""

    def run(sql: str, *args: Any) -> list[tuple]:
        conn = psycopg2.connect(server.url, application_name="test-admin", connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run


@pytest.fixture
def make_engine(server: EmbeddedPostgres) -> Iterator[Callable[..., tuple[Engine, str]]]:
    """Build engines on PgxPool, each with a unique application_name; dispose them after."""
    engines: list[Engine] = []

    def make(**pool_args: Any) -> tuple[Engine, str]:
        app = f"pgx-test-{uuid.uuid4().hex[:8]}"
        url = server.url.replace("postgresql://", "postgresql+psycopg2://", 1)
        engine = create_engine(
            url, poolclass=PgxPool, connect_args={"application_name": app}, **pool_args
        )
        engines.append(engine)
        return engine, app

    yield make
    for engine in engines:
        engine.pool.close()
        engine.dispose()


def backends(admin: Callable[..., list[tuple]], app: str) -> set[int]:
    """Backend pids currently connected with this application_name."""
    rows = admin("SELECT pid FROM pg_stat_activity WHERE application_name = %s", app)
    return {row[0] for row in rows}


def backend_pid(engine: Engine) -> int:
    """The server pid behind one pooled connection."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def maintenance_threads(engine: Engine) -> list[threading.Thread]:
    """Live maintenance threads belonging to this engine's current pool."""
    name = f"pgxpool-maintenance-{id(engine.pool):x}"
    return [t for t in threading.enumerate() if t.name == name]


def test_min_conns_are_open_right_after_start(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=5, min_conns=3, **FAST)
    engine.pool.start()
    assert len(backends(admin, app)) == 3  # application_name kept on every connection
    stat = engine.pool.stat()
    assert (stat.total_conns, stat.idle_conns, stat.new_conns_count) == (3, 3, 3)
    assert (stat.min_conns, stat.max_conns) == (3, 5)


def test_idle_connections_above_min_close_after_the_idle_time(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=4, min_conns=1, max_conn_idle_time=0.4, **FAST)
    engine.pool.start()
    held = [engine.connect() for _ in range(4)]
    for conn in held:
        conn.execute(text("SELECT 1"))
        conn.close()
    assert engine.pool.stat().idle_conns == 4
    assert wait_for(lambda: engine.pool.stat().total_conns == 1)
    assert engine.pool.stat().max_idle_destroy_count == 3
    assert wait_for(lambda: len(backends(admin, app)) == 1)
    time.sleep(0.6)  # the minimum stays, however long it idles
    assert engine.pool.stat().total_conns == 1


def test_connections_are_replaced_after_their_lifetime(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=3, min_conns=2, max_conn_lifetime=0.4, **FAST)
    engine.pool.start()
    first = backends(admin, app)
    assert len(first) == 2
    # Idle ones: replaced by the maintenance thread, keeping the minimum.
    assert wait_for(lambda: engine.pool.stat().max_lifetime_destroy_count >= 2)
    assert wait_for(lambda: len(backends(admin, app) - first) == 2)
    # A busy one: destroyed on return once past its lifetime, never reused.
    conn = engine.connect()
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    before = engine.pool.stat().max_lifetime_destroy_count
    time.sleep(0.5)
    conn.close()
    assert engine.pool.stat().max_lifetime_destroy_count > before
    assert wait_for(lambda: pid not in backends(admin, app))


def test_stat_moves_on_acquire_and_return(make_engine) -> None:
    engine, _ = make_engine(max_conns=2, min_conns=0)
    zero = engine.pool.stat()
    assert isinstance(zero, PoolStat)
    assert set(zero.to_dict()) == {
        "total_conns", "idle_conns", "acquired_conns", "constructing_conns", "max_conns",
        "min_conns", "acquire_count", "acquire_duration_s", "empty_acquire_count",
        "canceled_acquire_count", "new_conns_count", "max_lifetime_destroy_count",
        "max_idle_destroy_count",
    }  # fmt: skip
    assert zero.total_conns == zero.acquire_count == zero.new_conns_count == 0

    conn = engine.connect()
    s = engine.pool.stat()
    assert (s.acquired_conns, s.idle_conns, s.total_conns) == (1, 0, 1)
    assert (s.acquire_count, s.empty_acquire_count, s.new_conns_count) == (1, 1, 1)
    assert s.acquire_duration_s > 0
    conn.close()
    s = engine.pool.stat()
    assert (s.acquired_conns, s.idle_conns, s.total_conns) == (0, 1, 1)

    with engine.connect():  # reuses the idle connection: not an "empty" acquire
        pass
    s2 = engine.pool.stat()
    assert (s2.acquire_count, s2.empty_acquire_count, s2.new_conns_count) == (2, 1, 1)
    assert s2.acquire_duration_s >= s.acquire_duration_s
    assert "total=1 idle=1" in engine.pool.status()


def test_terminated_backends_are_detected_and_replaced(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=4, min_conns=2, ping_idle_after=0.05, **FAST)
    engine.pool.start()
    old = backends(admin, app)
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", app)
    # The maintenance thread pings idle connections, drops the dead, restores the minimum.
    assert wait_for(lambda: len(backends(admin, app)) == 2 and not backends(admin, app) & old)
    assert wait_for(lambda: engine.pool.stat().total_conns == 2)
    assert backend_pid(engine) not in old


def test_a_dead_connection_is_caught_before_use(make_engine, admin) -> None:
    # No maintenance pass will run during the test: the check on acquire does the work.
    engine, app = make_engine(max_conns=3, min_conns=2, ping_idle_after=0, health_check_period=60)
    engine.pool.start()
    old = backends(admin, app)
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", app)
    assert wait_for(lambda: not backends(admin, app))
    for _ in range(3):
        assert backend_pid(engine) not in old  # no error reaches the caller


def test_recovers_after_a_full_server_restart(make_engine, admin, server) -> None:
    engine, app = make_engine(max_conns=4, min_conns=2, ping_idle_after=0.05, **FAST)
    engine.pool.start()
    old = backends(admin, app)
    server.restart()
    time.sleep(0.1)
    pids = {backend_pid(engine) for _ in range(5)}  # every query succeeds
    assert not pids & old
    assert wait_for(lambda: len(backends(admin, app)) >= 2)
    assert engine.pool.stat().total_conns <= 4


def test_an_exhausted_pool_fails_clearly_and_in_bounded_time(make_engine) -> None:
    engine, _ = make_engine(max_conns=2, min_conns=0, acquire_timeout=0.3)
    held = [engine.connect() for _ in range(2)]
    started = time.monotonic()
    with pytest.raises(PoolTimeoutError, match=r"all 2 connections \(max_conns\).*0\.3s") as err:
        engine.connect()
    waited = time.monotonic() - started
    assert 0.3 <= waited < 1.5
    assert isinstance(err.value, exc.TimeoutError)
    assert engine.pool.stat().canceled_acquire_count == 1
    held[0].close()
    with engine.connect() as conn:  # a released connection is handed on at once
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    held[1].close()
    assert engine.pool.stat().total_conns == 2


def test_a_waiter_gets_a_released_connection(make_engine) -> None:
    engine, _ = make_engine(max_conns=1, acquire_timeout=5)
    conn = engine.connect()
    threading.Timer(0.2, conn.close).start()
    started = time.monotonic()
    with engine.connect():
        pass
    assert 0.15 < time.monotonic() - started < 2
    assert engine.pool.stat().empty_acquire_count == 2


def test_steady_load_opens_at_most_max_conns(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=5, min_conns=1, **FAST)
    engine.pool.start()
    seen: set[int] = set()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(200):
                with engine.connect() as conn:
                    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                with lock:
                    seen.add(pid)
        except BaseException as error:  # reported below, on the test thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stat = engine.pool.stat()
    assert stat.acquire_count == 2000
    assert len(seen) <= 5 and stat.new_conns_count <= 5
    assert len(backends(admin, app)) <= 5
    assert stat.acquired_conns == 0 and stat.total_conns == stat.idle_conns <= 5


def test_a_forked_child_uses_its_own_connections(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=3, min_conns=2, **FAST)
    engine.pool.start()
    parent_pids = backends(admin, app)
    held = engine.connect()  # checked out across the fork, too
    held_pid = held.execute(text("SELECT pg_backend_pid()")).scalar_one()
    held.commit()

    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(read_fd)
            stat = engine.pool.stat()  # the child starts with an empty pool
            pid = backend_pid(engine)
            held.invalidate()  # closing an inherited connection must not reach the parent
            engine.pool.dispose()
            gc.collect()
            os.write(write_fd, f"{pid} {stat.total_conns}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        reply = pipe.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child failed"
    child_pid, child_total = map(int, reply.split())
    assert child_total == 0
    assert child_pid not in parent_pids | {held_pid}
    # The parent's sessions survived the child's use, checkin, dispose and GC.
    assert held.execute(text("SELECT pg_backend_pid()")).scalar_one() == held_pid
    held.close()
    assert parent_pids | {held_pid} <= backends(admin, app)
    assert {backend_pid(engine) for _ in range(3)} <= parent_pids | {held_pid}
    assert engine.pool.stat().new_conns_count == len(parent_pids | {held_pid})


def test_close_stops_the_thread_and_closes_everything(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=3, min_conns=2, **FAST)
    engine.pool.start()
    busy = engine.connect()
    assert maintenance_threads(engine)
    pool = engine.pool
    pool.close()
    assert not maintenance_threads(engine)
    assert pool.stat().idle_conns == 0
    busy.close()  # returned after close: closed, not kept
    assert wait_for(lambda: not backends(admin, app))
    with pytest.raises(PoolClosedError):
        pool.connect()
    pool.close()  # idempotent


def test_engine_dispose_recreates_a_working_pool(make_engine, admin) -> None:
    engine, app = make_engine(max_conns=3, min_conns=1, **FAST)
    engine.pool.start()
    old_pool = engine.pool
    old_thread = maintenance_threads(engine)
    assert old_thread
    engine.dispose()
    assert engine.pool is not old_pool and isinstance(engine.pool, PgxPool)
    assert not old_thread[0].is_alive()
    assert wait_for(lambda: not backends(admin, app))
    assert backend_pid(engine) in backends(admin, app)
    new = engine.pool
    assert dataclasses.astuple(new.stat())[4:6] == (3, 1)


def test_arguments_are_validated(server) -> None:
    url = server.url.replace("postgresql://", "postgresql+psycopg2://", 1)
    with pytest.raises(exc.ArgumentError, match="min_conns"):
        create_engine(url, poolclass=PgxPool, max_conns=2, min_conns=3)
    with pytest.raises(exc.ArgumentError, match="max_conns"):
        create_engine(url, poolclass=PgxPool, max_conns=0)
