"""The maintenance thread: idle expiry, pings of idle connections and the min_conns floor."""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from sqlalchemy.pool.base import _ConnectionRecord

if TYPE_CHECKING:
    from .pool import PgxPool

log = logging.getLogger("ocore_database.pool")  # one logger for the whole package


class MaintenanceMixin:
    """PgxPool's health checks: expire idle connections, ping the rest, keep min_conns."""

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
