"""Fork and exit safety: live pools are registered so a forked child drops what it inherited."""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pool import PgxPool

log = logging.getLogger("ocore_database.pool")  # one logger for the whole package

LIVE_POOLS: weakref.WeakSet[PgxPool] = weakref.WeakSet()


class ForkSafetyMixin:
    """How PgxPool notices it runs in a forked child and lets go of the parent's connections."""

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
    for pool in list(LIVE_POOLS):
        try:
            pool._after_fork()
        except Exception:  # never break a fork
            log.exception("pool: reset after fork failed")


def _signal_maintenance_stop() -> None:
    """At exit, ask every maintenance thread to finish instead of racing finalisation."""
    for pool in list(LIVE_POOLS):
        pool._maint_stop.set()
        pool._maint_wake.set()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_signal_maintenance_stop)
