"""Database pool (issue 3): churn, warm start and overhead of PgxPool against the alternatives.

- churn: short queries from 10 threads through PgxPool (max 25, min 2), SQLAlchemy's default
  QueuePool (pool_size=5, max_overflow=10), a QueuePool sized like PgxPool
  (pool_size=DB_POOL_MAX_CONNS, max_overflow=0) and NullPool (a connection per query; fewer
  queries, scaled to 10,000): connections opened by each and throughput ratios;
- warm start: the first query after startup vs the median steady-state query, with
  min_conns=2 and min_conns=0;
- overhead: one thread's query loop through the pool vs one raw psycopg2 connection reused.

    python benchmarks/pool_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg2
from common import Row, bench_main, median, postgres, progress, ratio, scaled
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool, QueuePool

from ocore_database.database import Database, PoolOptions
from ocore_database.url import parse_database_url

BENCH = "pool"
THREADS = 10
QUERY = "SELECT 1"


def _connect_args(url: str) -> dict[str, Any]:
    """psycopg2 keyword arguments like the product's, so every pool pays the same per connect."""
    engine = create_engine(parse_database_url(url).sqlalchemy_url, poolclass=NullPool)
    return dict(engine.dialect.create_connect_args(engine.url)[1]) | {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 30,
        "application_name": "ocore-bench",
    }


def _count_connects(engine: Engine) -> list[int]:
    """A one-item counter of DBAPI connections the engine's pool opens from now on."""
    counter = [0]

    @event.listens_for(engine, "connect")
    def _on_connect(*_: object) -> None:
        counter[0] += 1

    return counter


def _hammer(engine: Engine, queries: int, threads: int, think: float = 0.0) -> float:
    """``queries`` short queries split over ``threads`` threads; the wall time in seconds.

    ``think`` > 0: after each query a thread pauses a random 0..``think`` seconds, like a
    request handler doing other work between queries (the load then comes in bursts).
    """
    shares = [queries // threads + (i < queries % threads) for i in range(threads)]
    barrier = threading.Barrier(threads + 1, timeout=60)  # never waits forever
    failures: list[BaseException] = []
    sql = text(QUERY)

    def worker(count: int) -> None:
        pause = random.Random().uniform if think else None
        barrier.wait()
        try:
            for _ in range(count):
                with engine.connect() as conn:
                    conn.execute(sql).scalar()
                if pause is not None:
                    time.sleep(pause(0, think))
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in shares]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} worker(s) failed: {failures[0]!r}")
    return elapsed


def _pgx_run(url: str, queries: int, think: float) -> tuple[float, int]:
    """(queries/s, connections opened) through the app's Database: PgxPool, default bounds."""
    db = Database(parse_database_url(url), PoolOptions())
    connects = _count_connects(db.engine)
    try:
        db.start(timeout=15)  # opens min_conns: counted, like everything opened afterwards
        _hammer(db.engine, 200, THREADS)  # warm-up, counted too
        seconds = _hammer(db.engine, queries, THREADS, think)
        opened = db.pool.stat().new_conns_count
    finally:
        db.close()
    if connects[0] != opened:
        progress(f"note: connect events {connects[0]} != PgxPool new_conns_count {opened}")
    return queries / seconds, opened


def _other_run(url: str, queries: int, think: float, **pool: Any) -> tuple[float, int]:
    """(queries/s, connections opened) through a plain engine with ``pool`` arguments."""
    parsed = parse_database_url(url)
    engine = create_engine(parsed.sqlalchemy_url, connect_args=_connect_args(url), **pool)
    connects = _count_connects(engine)
    try:
        if pool.get("poolclass") is not NullPool:
            _hammer(engine, 200, THREADS)
        seconds = _hammer(engine, queries, THREADS, think)
    finally:
        engine.dispose()
    return queries / seconds, connects[0]


def churn(url: str, args: argparse.Namespace) -> list[Row]:
    """New connections and throughput: PgxPool vs QueuePool (default and sized) vs NullPool."""
    queries = scaled(args, 10_000, 2_000)
    null_queries = scaled(args, 500, 100)
    think_queries = scaled(args, 5_000, 1_000)
    rounds = scaled(args, 2, 1)
    think = 0.002
    max_conns = PoolOptions().max_conns  # DB_POOL_MAX_CONNS's default
    queue_pool: dict[str, Any] = {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10}
    # The like-for-like alternative: QueuePool given PgxPool's hard cap and no overflow.
    sized_pool: dict[str, Any] = {
        "poolclass": QueuePool,
        "pool_size": max_conns,
        "max_overflow": 0,
    }

    # Interleaved rounds; throughput is the best round (the least disturbed by other
    # processes), connections the worst round.
    keys = ("pgx", "queue", "sized", "tpgx", "tqueue", "tsized")
    runs: dict[str, list[tuple[float, int]]] = {k: [] for k in keys}
    for _ in range(rounds):
        runs["pgx"].append(_pgx_run(url, queries, 0.0))
        runs["queue"].append(_other_run(url, queries, 0.0, **queue_pool))
        runs["sized"].append(_other_run(url, queries, 0.0, **sized_pool))
        runs["tpgx"].append(_pgx_run(url, think_queries, think))
        runs["tqueue"].append(_other_run(url, think_queries, think, **queue_pool))
        runs["tsized"].append(_other_run(url, think_queries, think, **sized_pool))
    null_qps, null_new = _other_run(url, null_queries, 0.0, poolclass=NullPool)
    qps = {k: max(r[0] for r in v) for k, v in runs.items()}
    opened = {k: max(r[1] for r in v) for k, v in runs.items()}
    for key, values in runs.items():
        progress(f"churn {key}: " + "; ".join(f"{q:,.0f} q/s, {n} opened" for q, n in values))
    progress(f"churn null: {null_qps:,.0f} q/s, {null_new} opened")

    tight = f"churn {queries:,} queries x {THREADS} threads"
    sized = f"QueuePool sized like PgxPool ({max_conns} + overflow 0)"
    bursty = (
        f"churn + 0-{think * 1000:g} ms think time, {think_queries:,} queries x {THREADS} threads"
    )
    return [
        Row(BENCH, f"{tight}: PgxPool (max 25, min 2) connections opened", opened["pgx"],
            "conns", f"<= {max_conns}"),
        Row(BENCH, f"{tight}: QueuePool (5 + overflow 10) connections opened", opened["queue"],
            "conns"),
        Row(BENCH, f"{tight}: {sized} connections opened", opened["sized"], "conns"),
        Row(BENCH, f"{tight}: NullPool connections opened (scaled from {null_queries:,})",
            round(null_new * queries / null_queries), "conns"),
        Row(BENCH, f"{tight}: PgxPool throughput", round(qps["pgx"]), "queries/s"),
        Row(BENCH, f"{tight}: PgxPool / QueuePool throughput", ratio(qps["pgx"], qps["queue"]),
            "ratio"),
        Row(BENCH, f"{tight}: PgxPool / {sized} throughput", ratio(qps["pgx"], qps["sized"]),
            "ratio"),
        Row(BENCH, f"{tight}: PgxPool / NullPool throughput", ratio(qps["pgx"], null_qps),
            "ratio"),
        Row(BENCH, f"{bursty}: PgxPool connections opened", opened["tpgx"], "conns",
            f"<= {max_conns}"),
        Row(BENCH, f"{bursty}: QueuePool connections opened", opened["tqueue"], "conns"),
        Row(BENCH, f"{bursty}: {sized} connections opened", opened["tsized"], "conns"),
        Row(BENCH, f"{bursty}: PgxPool / QueuePool throughput",
            ratio(qps["tpgx"], qps["tqueue"]), "ratio"),
        Row(BENCH, f"{bursty}: PgxPool / {sized} throughput",
            ratio(qps["tpgx"], qps["tsized"]), "ratio"),
    ]  # fmt: skip


def _time_query(engine: Engine) -> float:
    sql = text(QUERY)
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sql).scalar()
    return time.perf_counter() - started


def _warm_trial(
    url: str, min_conns: int | None, steady: int, app_start: bool
) -> tuple[float, float]:
    """(first query, median steady-state query) in seconds after a fresh start.

    ``min_conns`` None: no pool at all, one fresh raw psycopg2 connection (the server-side
    floor: a new backend's first transaction loads its catalog caches).
    """
    if min_conns is None:
        conn = psycopg2.connect(**_connect_args(url))
        try:
            times = []
            for _ in range(steady + 1):
                started = time.perf_counter()
                cur = conn.cursor()
                cur.execute(QUERY)
                cur.fetchone()
                cur.close()
                conn.rollback()
                times.append(time.perf_counter() - started)
            return times[0], median(times[1:])
        finally:
            conn.close()
    db = Database(parse_database_url(url), PoolOptions(min_conns=min_conns))
    try:
        if app_start:
            db.start(timeout=15)  # the app's startup: a probe query, then min_conns
        else:
            db.pool.start()  # the pool alone: min_conns opened, nothing run on them
        first = _time_query(db.engine)
        times = [_time_query(db.engine) for _ in range(steady)]
        return first, median(times)
    finally:
        db.close()


def warm_start(url: str, args: argparse.Namespace) -> list[Row]:
    """First query after startup vs steady state, with and without warm connections."""
    trials = scaled(args, 7, 3)
    steady = scaled(args, 200, 50)
    rows = []
    cases: list[tuple[str, int | None, bool, str]] = [
        ("min_conns=2, app startup (Database.start)", 2, True, "<= 2"),
        ("min_conns=0, app startup (Database.start)", 0, True, ""),
        ("min_conns=2, pool.start() only", 2, False, ""),
        ("min_conns=0, pool.start() only", 0, False, ""),
        ("no pool: fresh raw psycopg2 connection", None, False, ""),
    ]
    for name, min_conns, app_start, target in cases:
        firsts, steadies = [], []
        for _ in range(trials):
            first, steady_median = _warm_trial(url, min_conns, steady, app_start)
            firsts.append(first)
            steadies.append(steady_median)
        first_ms, steady_ms = median(firsts) * 1000, median(steadies) * 1000
        progress(f"warm start {name}: first {first_ms:.2f} ms, steady {steady_ms:.3f} ms")
        rows.append(
            Row(
                BENCH,
                f"warm start, {name}: first / steady query ({first_ms:.2f} / {steady_ms:.2f} ms)",
                ratio(first_ms, steady_ms),
                "ratio",
                target,
            )
        )
    return rows


def _loop_seconds(body: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        body()
    return time.perf_counter() - started


def overhead(url: str, args: argparse.Namespace) -> list[Row]:
    """One thread: the query loop through the pool vs one raw psycopg2 connection reused."""
    count = 250  # iterations per round: short rounds, interleaved
    rounds = scaled(args, 20, 5)
    parsed = parse_database_url(url)
    db = Database(parsed, PoolOptions())
    db.start(timeout=15)
    raw = psycopg2.connect(**_connect_args(url))
    queue = create_engine(
        parsed.sqlalchemy_url, poolclass=QueuePool, connect_args=_connect_args(url)
    )
    sql = text(QUERY)

    def through_pool() -> None:
        # BEGIN (implicit), SELECT, ROLLBACK on return: three round trips.
        with db.engine.connect() as conn:
            conn.execute(sql).scalar()

    def through_queue_pool() -> None:
        # The same through SQLAlchemy's QueuePool: how much is the engine, how much the pool.
        with queue.connect() as conn:
            conn.execute(sql).scalar()

    def pool_checkout_only() -> None:
        # The pool's own cost: checkout, a raw cursor, return (same three round trips).
        conn = db.engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute(QUERY)
            cur.fetchone()
            cur.close()
        finally:
            conn.close()

    def raw_same_work() -> None:
        # The same three round trips on one reused connection: BEGIN, SELECT, ROLLBACK.
        cur = raw.cursor()
        cur.execute(QUERY)
        cur.fetchone()
        cur.close()
        raw.rollback()

    def raw_bare() -> None:
        # The cheapest loop a raw connection allows: SELECT only, transaction left open.
        cur = raw.cursor()
        cur.execute(QUERY)
        cur.fetchone()
        cur.close()

    loops = {
        "pool": through_pool,
        "queue": through_queue_pool,
        "checkout": pool_checkout_only,
        "raw": raw_same_work,
        "bare": raw_bare,
    }
    seconds: dict[str, list[float]] = {k: [] for k in loops}
    try:
        for body in loops.values():
            _loop_seconds(body, 200)  # warm-up
        raw.rollback()
        # Interleaved short rounds, so drift hits every loop alike; each loop's figure is its
        # fastest round (timeit's rule: slower rounds are other processes interfering).
        for _ in range(rounds):
            for key, body in loops.items():
                seconds[key].append(_loop_seconds(body, count))
                raw.rollback()
    finally:
        raw.close()
        queue.dispose()
        db.close()
    us = {k: min(v) / count * 1e6 for k, v in seconds.items()}
    progress("overhead per query (us): " + ", ".join(f"{k} {v:.1f}" for k, v in us.items()))
    return [
        Row(BENCH, f"overhead: query via engine + PgxPool / raw psycopg2, same round trips "
            f"({us['pool']:.0f} / {us['raw']:.0f} us)", ratio(us["pool"], us["raw"]), "ratio",
            "<= 1.3"),
        Row(BENCH, f"overhead: query via engine + QueuePool / raw psycopg2, same round trips "
            f"({us['queue']:.0f} / {us['raw']:.0f} us)", ratio(us["queue"], us["raw"]), "ratio"),
        Row(BENCH, f"overhead: PgxPool checkout + raw cursor / raw psycopg2, same round trips "
            f"({us['checkout']:.0f} / {us['raw']:.0f} us)", ratio(us["checkout"], us["raw"]),
            "ratio", "<= 1.3"),
        Row(BENCH, f"overhead: query via engine + PgxPool / raw SELECT only, no transaction end "
            f"({us['pool']:.0f} / {us['bare']:.0f} us)", ratio(us["pool"], us["bare"]), "ratio"),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> list[Row]:
    """Every pool measurement, on ``args.database_url`` or an embedded PostgreSQL."""
    with postgres(getattr(args, "database_url", None)) as url:
        progress("pool: churn")
        rows = churn(url, args)
        progress("pool: warm start")
        rows += warm_start(url, args)
        progress("pool: overhead")
        rows += overhead(url, args)
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
