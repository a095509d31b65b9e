"""A SQLAlchemy connection pool that behaves like Go's pgxpool instead of QueuePool.

Differences from SQLAlchemy's defaults, all following pgxpool (jackc/pgx v5):

- ``max_conns`` is a hard cap on open connections, with no overflow: a connection returned
  to the pool stays open, so steady load causes no open/close churn.
- ``min_conns`` are opened by ``start()`` and kept open by a maintenance thread, which runs
  every ``health_check_period`` (and soon after a connection is destroyed).
- Idle connections above the minimum close after ``max_conn_idle_time``; every connection is
  replaced after ``max_conn_lifetime`` (+ a random ``max_conn_lifetime_jitter``), checked on
  checkout, on return and by the maintenance thread.
- Dead connections are found before use: a connection idle longer than ``ping_idle_after``
  (pgxpool: 1 s) is pinged on checkout, and the maintenance thread pings idle connections.
- A pool at ``max_conns`` makes callers wait up to ``acquire_timeout``, then raises
  ``PoolTimeoutError``; ``stat()`` mirrors pgxpool's ``Stat()``.
- Fork-safe: a forked child never touches the parent's connections; it neutralises their
  sockets (so that garbage collection cannot send a Terminate message on the parent's
  session), forgets them and opens its own.

Use it through ``create_engine(url, poolclass=PgxPool, max_conns=..., min_conns=...)``;
durations are seconds (float), ``datetime.timedelta`` or anything with ``to_timedelta()``.
"""

from __future__ import annotations

import atexit
import bisect
import dataclasses
import datetime
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from typing import Any, Protocol

from sqlalchemy import exc
from sqlalchemy.pool import ConnectionPoolEntry, Pool
from sqlalchemy.pool.base import _ConnectionRecord

__all__ = ["PgxPool", "PoolClosedError", "PoolStat", "PoolTimeoutError"]

log = logging.getLogger(__name__)

_POOLS: weakref.WeakSet[PgxPool] = weakref.WeakSet()


class _HasTimedelta(Protocol):
    def to_timedelta(self) -> datetime.timedelta: ...


DurationLike = float | int | datetime.timedelta | _HasTimedelta


class PoolTimeoutError(exc.TimeoutError):
    """No connection became free within ``acquire_timeout`` while the pool was at max_conns."""


class PoolClosedError(exc.InvalidRequestError):
    """A connection was requested from a pool after ``close()``."""


@dataclasses.dataclass(frozen=True)
class PoolStat:
    """A snapshot of the pool, field for field like pgxpool's ``Stat()``."""

    total_conns: int
    idle_conns: int
    acquired_conns: int
    constructing_conns: int
    max_conns: int
    min_conns: int
    acquire_count: int
    acquire_duration_s: float
    empty_acquire_count: int
    canceled_acquire_count: int
    new_conns_count: int
    max_lifetime_destroy_count: int
    max_idle_destroy_count: int

    def to_dict(self) -> dict[str, int | float]:
        """The snapshot as a plain dict, for health payloads and logs."""
        return dataclasses.asdict(self)


def _seconds(name: str, value: DurationLike) -> float:
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif hasattr(value, "to_timedelta"):
        seconds = value.to_timedelta().total_seconds()
    else:
        seconds = float(value)
    if seconds < 0:
        raise exc.ArgumentError(f"{name} must not be negative: {value!r}")
    return seconds


class PgxPool(Pool):
    """A bounded, self-maintaining pool with pgxpool's semantics and metrics."""

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
        self._max_conn_lifetime = _seconds("max_conn_lifetime", max_conn_lifetime)
        self._max_conn_lifetime_jitter = _seconds(
            "max_conn_lifetime_jitter", max_conn_lifetime_jitter
        )
        self._max_conn_idle_time = _seconds("max_conn_idle_time", max_conn_idle_time)
        self._health_check_period = _seconds("health_check_period", health_check_period)
        self._acquire_timeout = _seconds("acquire_timeout", acquire_timeout)
        self._ping_idle_after = _seconds("ping_idle_after", ping_idle_after)
        if self._health_check_period <= 0:
            raise exc.ArgumentError("health_check_period must be positive")
        self._closed = False
        self._init_state()
        _POOLS.add(self)

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

    # -- maintenance --------------------------------------------------------------------

    def _ensure_maintenance(self) -> None:
        if self._maint_thread is not None or self._closed:
            return
        with self._maint_lock:
            if self._maint_thread is not None:
                return
            self._maint_stop = threading.Event()
            self._maint_wake = threading.Event()
            thread = threading.Thread(
                target=_maintenance_loop,
                args=(weakref.ref(self), self._maint_stop, self._maint_wake),
                name=f"pgxpool-maintenance-{id(self):x}",
                daemon=True,
            )
            self._maint_thread = thread
            thread.start()

    def _stop_maintenance(self) -> None:
        with self._maint_lock:
            thread, self._maint_thread = self._maint_thread, None
            self._maint_stop.set()
            self._maint_wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _maintain(self) -> None:
        """One health-check pass: expire idle connections, ping the rest, restore the minimum."""
        if self._pid != os.getpid() or self._closed:
            return
        now = time.monotonic()
        doomed: list[tuple[_ConnectionRecord, str]] = []
        to_ping: list[_ConnectionRecord] = []
        with self._cond:
            total = self._total()
            for rec in list(self._idle):  # oldest return first
                reason = self._unusable(rec, now)
                idle_for = now - rec._pgx_idle_since
                if reason is None and idle_for > self._max_conn_idle_time:
                    if total > self._min_conns:
                        reason = "idle"
                        self._idle_destroy_count += 1
                elif reason == "lifetime":
                    self._lifetime_destroy_count += 1
                if reason is not None:
                    self._idle.remove(rec)
                    doomed.append((rec, reason))
                    total -= 1
                elif idle_for > self._ping_idle_after:
                    to_ping.append(rec)
        self._destroy_all(doomed)
        for rec in to_ping:
            self._health_check(rec)
        self._fill_min()

    def _health_check(self, rec: _ConnectionRecord) -> None:
        """Ping one idle connection, keeping its place and idle time if it is alive."""
        with self._cond:
            if rec not in self._idle:
                return  # taken meanwhile
            self._idle.remove(rec)
            self._acquired.add(rec)
        if not self._ping(rec):
            self._release_dead(rec)
            return
        with self._cond:
            self._acquired.discard(rec)
            if self._closed or rec._pgx_generation != self._generation:
                doomed = True
            else:
                doomed = False
                index = bisect.bisect_right(
                    self._idle, rec._pgx_idle_since, key=lambda r: r._pgx_idle_since
                )
                self._idle.insert(index, rec)
                self._cond.notify()
        if doomed:
            self._destroy(rec, "closed")

    def _fill_min(self) -> BaseException | None:
        """Open connections until ``min_conns`` exist; return the error that stopped it."""
        while True:
            with self._cond:
                if self._closed or self._total() >= self._min_conns:
                    return None
                self._constructing += 1
            try:
                rec = self._open()
            except Exception as err:
                log.warning("pool: cannot open a connection to keep min_conns: %s", err)
                return err
            with self._cond:
                self._constructing -= 1
                if self._closed or self._pid != os.getpid():
                    doomed = True
                else:
                    doomed = False
                    rec._pgx_idle_since = time.monotonic()
                    self._idle.appendleft(rec)
                    self._cond.notify_all()
            if doomed:
                self._destroy(rec, "closed")
                return None

    # -- fork safety --------------------------------------------------------------------

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()

    def _after_fork(self) -> None:
        """In a forked child: drop the parent's connections without touching their sessions."""
        if self._pid == os.getpid():
            return
        inherited = [*self._idle, *self._acquired]
        self._init_state()
        for rec in inherited:
            _neutralize(rec.dbapi_connection)


def _neutralize(connection: Any) -> None:
    """Point an inherited connection's socket at /dev/null in this process only.

    Closing the connection would send Terminate on the parent's session; leaving it to the
    garbage collector does the same. With /dev/null behind its descriptor, any use or close
    in the child fails or goes nowhere, and the parent's socket is no longer held by us.
    """
    if connection is None or getattr(connection, "closed", False):
        return
    try:
        fd = connection.fileno()
    except Exception:
        _KEEP_FOREVER.append(connection)  # cannot neutralise: never let it be collected
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)


_KEEP_FOREVER: list[Any] = []


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        try:
            pool._after_fork()
        except Exception:  # never break a fork
            log.exception("pool: reset after fork failed")


def _signal_maintenance_stop() -> None:
    """At exit, ask every maintenance thread to finish instead of racing finalisation."""
    for pool in list(_POOLS):
        pool._maint_stop.set()
        pool._maint_wake.set()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_signal_maintenance_stop)


def _maintenance_loop(
    pool_ref: weakref.ref[PgxPool], stop: threading.Event, wake: threading.Event
) -> None:
    """Run health checks until stopped or until the pool is garbage collected."""
    while not stop.is_set():
        pool = pool_ref()
        if pool is None:
            return
        period = pool._health_check_period
        try:
            pool._maintain()
        except Exception:
            log.exception("pool: maintenance pass failed")
        del pool
        wake.wait(period)
        wake.clear()
