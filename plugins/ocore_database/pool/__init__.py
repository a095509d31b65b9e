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

from .errors import PoolClosedError, PoolTimeoutError
from .options import DurationLike as DurationLike  # public, though never in __all__
from .pool import PgxPool
from .stats import PoolStat

__all__ = ["PgxPool", "PoolClosedError", "PoolStat", "PoolTimeoutError"]
