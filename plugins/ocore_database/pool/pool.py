"""PgxPool: the SQLAlchemy Pool subclass, its checkout/return path and its bookkeeping."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import exc
from sqlalchemy.pool import ConnectionPoolEntry, Pool
from sqlalchemy.pool.base import _ConnectionRecord

from .errors import PoolClosedError, PoolTimeoutError
from .fork import LIVE_POOLS, ForkSafetyMixin
from .maintenance import MaintenanceMixin
from .options import DurationLike, duration_seconds
from .stats import PoolStat

log = logging.getLogger("ocore_database.pool")  # one logger for the whole package


class PgxPool(MaintenanceMixin, ForkSafetyMixin, Pool):
    """A bounded, self-maintaining pool with pgxpool's semantics and metrics."""

    # Its public home. SQLAlchemy names each pool's logger after the class's module, and
    # "ocore_database.pool.PgxPool" is the name the database plugin configures.
    __module__ = "ocore_database.pool"

    def __init__(
        self,
        creator: Any,
        # Not keyword-only: create_engine() finds pool arguments through co_argcount.
        max_conns: int = 25,
        min_conns: int = 0,
        max_conn_lifetime: DurationLike = 3600.0,
        max_conn_lifetime_jitter: DurationLike = 0.0,
        max_conn_idle_time: DurationLike = 1800.0,
        health_check_period: DurationLike = 60.0,
        acquire_timeout: DurationLike = 30.0,
        ping_idle_after: DurationLike = 1.0,
        **kw: Any,
    ) -> None:
        """Configure the pool; connections open on ``start()`` or on first use."""
        recycle = kw.pop("recycle", -1)
        if recycle is not None and recycle > 0:  # create_engine(pool_recycle=...) still works
            max_conn_lifetime = recycle
        super().__init__(creator, recycle=-1, **kw)
        if max_conns < 1:
            raise exc.ArgumentError(f"max_conns must be at least 1: {max_conns}")
        if not 0 <= min_conns <= max_conns:
            raise exc.ArgumentError(
                f"min_conns must be between 0 and max_conns ({max_conns}): {min_conns}"
            )
        self._max_conns = max_conns
        self._min_conns = min_conns
        self._max_conn_lifetime = duration_seconds("max_conn_lifetime", max_conn_lifetime)
        self._max_conn_lifetime_jitter = duration_seconds(
            "max_conn_lifetime_jitter", max_conn_lifetime_jitter
        )
        self._max_conn_idle_time = duration_seconds("max_conn_idle_time", max_conn_idle_time)
        self._health_check_period = duration_seconds("health_check_period", health_check_period)
        self._acquire_timeout = duration_seconds("acquire_timeout", acquire_timeout)
        self._ping_idle_after = duration_seconds("ping_idle_after", ping_idle_after)
        if self._health_check_period <= 0:
            raise exc.ArgumentError("health_check_period must be positive")
        self._closed = False
        self._init_state()
        LIVE_POOLS.add(self)

    def _init_state(self) -> None:
        """(Re)create everything that is per process: locks, connections, counters, thread."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._idle: deque[_ConnectionRecord] = deque()  # right end = most recently returned
        self._acquired: set[_ConnectionRecord] = set()
        self._constructing = 0
        self._generation = getattr(self, "_generation", 0) + 1
        self._maint_lock = threading.Lock()
        self._maint_thread: threading.Thread | None = None
        self._maint_stop = threading.Event()
        self._maint_wake = threading.Event()
        self._acquire_count = 0
        self._acquire_duration = 0.0
        self._empty_acquire_count = 0
        self._canceled_acquire_count = 0
        self._new_conns_count = 0
        self._lifetime_destroy_count = 0
        self._idle_destroy_count = 0

    # -- public API -------------------------------------------------------------------

    @property
    def max_conns(self) -> int:
        """The hard cap on open connections."""
        return self._max_conns

    @property
    def min_conns(self) -> int:
        """The number of connections kept open even when idle."""
        return self._min_conns

    def start(self) -> None:
        """Open ``min_conns`` now (raising if the server is unreachable) and start maintenance."""
        self._check_fork()
        error = self._fill_min()
        if error is not None:
            raise error
        self._ensure_maintenance()
        with self._cond:  # the maintenance thread may still be opening one of them
            self._cond.wait_for(
                lambda: self._constructing == 0 or self._closed, timeout=self._acquire_timeout
            )

    def stat(self) -> PoolStat:
        """Counters and gauges like pgxpool's ``Stat()``."""
        self._check_fork()
        with self._cond:
            return PoolStat(
                total_conns=self._total(),
                idle_conns=len(self._idle),
                acquired_conns=len(self._acquired),
                constructing_conns=self._constructing,
                max_conns=self._max_conns,
                min_conns=self._min_conns,
                acquire_count=self._acquire_count,
                acquire_duration_s=self._acquire_duration,
                empty_acquire_count=self._empty_acquire_count,
                canceled_acquire_count=self._canceled_acquire_count,
                new_conns_count=self._new_conns_count,
                max_lifetime_destroy_count=self._lifetime_destroy_count,
                max_idle_destroy_count=self._idle_destroy_count,
            )

    def close(self) -> None:
        """Stop the maintenance thread and close every connection (in use ones on return)."""
        self._check_fork()
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        self._stop_maintenance()
        self._destroy_all(idle)

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._closed

    def dispose(self) -> None:
        """Close idle connections and stop maintenance; connections in use close on return."""
        self._check_fork()
        with self._cond:
            self._generation += 1
            idle = list(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        self._stop_maintenance()
        self._destroy_all(idle)

    def recreate(self) -> PgxPool:
        """A new, empty pool with the same configuration (used by ``Engine.dispose()``)."""
        return self.__class__(
            self._creator,
            max_conns=self._max_conns,
            min_conns=self._min_conns,
            max_conn_lifetime=self._max_conn_lifetime,
            max_conn_lifetime_jitter=self._max_conn_lifetime_jitter,
            max_conn_idle_time=self._max_conn_idle_time,
            health_check_period=self._health_check_period,
            acquire_timeout=self._acquire_timeout,
            ping_idle_after=self._ping_idle_after,
            echo=self.echo,
            logging_name=self._orig_logging_name,
            reset_on_return=self._reset_on_return,
            pre_ping=self._pre_ping,
            _dispatch=self.dispatch,
            dialect=self._dialect,
        )

    def status(self) -> str:
        """A one-line description, as SQLAlchemy's pools give."""
        s = self.stat()
        return (
            f"PgxPool total={s.total_conns} idle={s.idle_conns} acquired={s.acquired_conns} "
            f"constructing={s.constructing_conns} min={s.min_conns} max={s.max_conns}"
        )

    # -- SQLAlchemy hooks ---------------------------------------------------------------

    def _should_wrap_creator(self, creator: Any) -> Any:
        """Wrap the creator so every new DBAPI connection, however opened, is stamped."""
        invoke = super()._should_wrap_creator(creator)

        def create(record: ConnectionPoolEntry) -> Any:
            connection = invoke(record)
            self._stamp(record)
            return connection

        return create

    def _do_get(self) -> ConnectionPoolEntry:
        self._check_fork()
        self._ensure_maintenance()
        started = time.monotonic()
        deadline = started + self._acquire_timeout
        empty = False
        while True:
            doomed: list[tuple[_ConnectionRecord, str]] = []
            try:
                rec, create, waited = self._reserve(deadline, doomed)
            finally:
                self._destroy_all(doomed)
            empty = empty or waited or create
            if create:
                rec = self._open()
                with self._cond:
                    self._constructing -= 1
                    self._acquired.add(rec)
                    self._cond.notify_all()  # start() may be waiting for construction to end
                break
            if time.monotonic() - rec._pgx_idle_since <= self._ping_idle_after:
                break
            if self._ping(rec):
                break
            self._release_dead(rec)
        with self._cond:
            self._acquire_count += 1
            self._acquire_duration += time.monotonic() - started
            if empty:
                self._empty_acquire_count += 1
        return rec

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._check_fork()
        rec: _ConnectionRecord = record
        with self._cond:
            if rec not in self._acquired:
                # Detached, or opened by a parent process: not ours to keep or close.
                return
            self._acquired.discard(rec)
            reason = self._unusable(rec, time.monotonic())
            if reason is None:
                rec._pgx_idle_since = time.monotonic()
                self._idle.append(rec)
            elif reason == "lifetime":
                self._lifetime_destroy_count += 1
            self._cond.notify()
            below_min = reason is not None and self._total() < self._min_conns
        if reason is not None:
            self._destroy(rec, reason)
            if below_min:
                self._maint_wake.set()

    # -- acquisition helpers ------------------------------------------------------------

    def _reserve(
        self, deadline: float, doomed: list[tuple[_ConnectionRecord, str]]
    ) -> tuple[Any, bool, bool]:
        """Under the lock: take an idle connection, or a slot to open one, or wait.

        Returns (record or None, whether to open a new connection, whether it had to wait).
        """
        waited = False
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosedError("the connection pool is closed")
                now = time.monotonic()
                while self._idle:
                    rec = self._idle.pop()
                    reason = self._unusable(rec, now)
                    if reason is None:
                        self._acquired.add(rec)
                        return rec, False, waited
                    if reason == "lifetime":
                        self._lifetime_destroy_count += 1
                    doomed.append((rec, reason))
                if self._total() < self._max_conns:
                    self._constructing += 1
                    return None, True, waited
                remaining = deadline - now
                if remaining <= 0:
                    self._canceled_acquire_count += 1
                    raise PoolTimeoutError(
                        f"connection pool exhausted: all {self._max_conns} connections "
                        f"(max_conns) are in use and none was released within "
                        f"{self._acquire_timeout:g}s (acquire_timeout)"
                    )
                waited = True
                self._cond.wait(remaining)

    def _open(self) -> _ConnectionRecord:
        """Open a connection for a slot counted in ``_constructing``; the caller files it."""
        try:
            rec = self._create_connection()
        except BaseException:
            with self._cond:
                self._constructing -= 1
                self._cond.notify()
            raise
        return rec

    def _stamp(self, rec: ConnectionPoolEntry) -> None:
        now = time.monotonic()
        jitter = random.uniform(0, self._max_conn_lifetime_jitter)
        rec._pgx_deadline = now + self._max_conn_lifetime + jitter
        rec._pgx_idle_since = now
        rec._pgx_generation = self._generation
        with self._cond:
            self._new_conns_count += 1

    def _unusable(self, rec: _ConnectionRecord, now: float) -> str | None:
        """Why a connection must not be handed out or kept, or None if it is fine."""
        if self._closed:
            return "closed"
        if rec.dbapi_connection is None or rec._is_hard_or_soft_invalidated():
            return "invalid"
        if getattr(rec, "_pgx_generation", None) != self._generation:
            return "stale"  # opened before dispose()
        if now >= rec._pgx_deadline:
            return "lifetime"
        return None

    def _ping(self, rec: _ConnectionRecord) -> bool:
        """pgxpool's check on acquire: a cheap round trip; False when the connection is dead."""
        conn = rec.dbapi_connection
        try:
            do_ping = getattr(self._dialect, "do_ping", None)
            if do_ping is not None:
                do_ping(conn)  # psycopg: SELECT 1 in autocommit, no transaction left open
            else:
                cursor = conn.cursor()
                try:
                    cursor.execute("SELECT 1")
                finally:
                    cursor.close()
            conn.rollback()
            return True
        except Exception as err:
            log.info("pool: connection failed its ping, replacing it: %s", err)
            return False

    def _release_dead(self, rec: _ConnectionRecord) -> None:
        with self._cond:
            self._acquired.discard(rec)
            self._cond.notify()
        self._destroy(rec, "dead")
        self._maint_wake.set()

    def _total(self) -> int:
        return len(self._idle) + len(self._acquired) + self._constructing

    def _destroy(self, rec: _ConnectionRecord, reason: str) -> None:
        """Close a connection that has already left the pool's books (outside the lock)."""
        log.debug("pool: closing connection (%s)", reason)
        if rec.dbapi_connection is None:
            return
        try:
            if reason in ("dead", "invalid"):
                rec.invalidate()
            else:
                rec.close()
        except Exception:
            log.warning("pool: error closing a connection", exc_info=True)

    def _destroy_all(self, recs: list[Any]) -> None:
        for item in recs:
            rec, reason = item if isinstance(item, tuple) else (item, "closed")
            self._destroy(rec, reason)
