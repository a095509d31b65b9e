"""The app's PostgreSQL: one engine over a ``PgxPool``, shared by the ORM, health and jobs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import psycopg2
from sqlalchemy import Connection, Engine, create_engine, text

from ocore_database.pool import PgxPool
from ocore_database.url import DatabaseURL

if TYPE_CHECKING:
    from ocore_database.settings import DatabaseSettings

log = logging.getLogger("ocore_database")

DEFAULT_APPLICATION_NAME = "ocore"
RETRY_INTERVAL = 0.5
# Server answers that waiting will not fix: fail at once instead of retrying until the deadline.
PERMANENT_FAILURES = (
    "password authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "sslmode value",
    "invalid sslmode",
    "server does not support ssl",
)


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached (or refused us) within the startup wait: ``permanent``
    when the server's answer was one waiting cannot fix, ``elapsed`` the seconds spent."""

    def __init__(self, reason: str, *, permanent: bool = False, elapsed: float = 0.0) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.elapsed = elapsed


@dataclass(frozen=True)
class PoolOptions:
    """The pool's bounds and timings, in seconds."""

    min_conns: int = 2
    max_conns: int = 25
    max_conn_lifetime: float = 3600.0
    max_conn_idle_time: float = 1800.0
    health_check_period: float = 60.0
    acquire_timeout: float = 5.0
    connect_timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> PoolOptions:
        """The pool's options from the plugin's settings section."""
        return cls(
            min_conns=settings.pool_min_conns,
            max_conns=settings.pool_max_conns,
            max_conn_lifetime=settings.pool_max_conn_lifetime.seconds,
            max_conn_idle_time=settings.pool_max_conn_idle_time.seconds,
            health_check_period=settings.pool_health_check_period.seconds,
            acquire_timeout=settings.pool_acquire_timeout.seconds,
            connect_timeout=settings.connect_timeout.seconds,
        )


class Database:
    """The engine, its pgxpool-like pool, startup checks and health for one app."""

    def __init__(self, url: DatabaseURL, options: PoolOptions) -> None:
        self.url = url
        self.options = options
        self.application_name = _application_name(url)
        connect_args: dict[str, Any] = {
            # libpq takes whole seconds and treats 1 as 2; round up so the bound is honoured.
            "connect_timeout": max(2, math.ceil(options.connect_timeout)),
            "keepalives": 1,
            "keepalives_idle": 30,
        }
        if "application_name=" not in url.raw:
            connect_args["application_name"] = self.application_name
        self.engine: Engine = create_engine(
            url.sqlalchemy_url,
            poolclass=PgxPool,
            max_conns=options.max_conns,
            min_conns=options.min_conns,
            max_conn_lifetime=options.max_conn_lifetime,
            max_conn_idle_time=options.max_conn_idle_time,
            health_check_period=options.health_check_period,
            acquire_timeout=options.acquire_timeout,
            connect_args=connect_args,
            hide_parameters=True,
        )

    def __repr__(self) -> str:
        return f"<Database {self.url.redacted}>"

    @property
    def pool(self) -> PgxPool:
        """The engine's pool."""
        return self.engine.pool  # type: ignore[return-value]

    def wait_until_reachable(self, timeout: float) -> None:
        """Try to connect until ``timeout``; raise ``DatabaseUnavailable`` with the last reason.

        Refusals that waiting cannot fix (wrong password, missing database) fail at once.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception as exc:
                reason = describe_failure(exc)
                permanent = any(p in reason.lower() for p in PERMANENT_FAILURES)
                now = time.monotonic()
                if permanent or now + RETRY_INTERVAL >= deadline:
                    raise DatabaseUnavailable(
                        reason, permanent=permanent, elapsed=now - started
                    ) from None
            time.sleep(RETRY_INTERVAL)

    def start(self, timeout: float) -> None:
        """Wait for PostgreSQL (bounded), then open the minimum connections and warm them: a
        backend's first transaction loads its catalog caches and is several times slower, so
        the first requests after startup do not pay for it."""
        self.wait_until_reachable(timeout)
        self.pool.start()
        with ExitStack() as stack:
            for _ in range(self.options.min_conns):
                stack.enter_context(self.engine.connect()).execute(
                    text("SELECT count(*) FROM pg_catalog.pg_class")
                )

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A pooled connection (returned to the pool afterwards)."""
        with self.engine.connect() as conn:
            yield conn

    def stat(self) -> dict[str, Any]:
        """pgxpool-style metrics; no I/O."""
        return self.pool.stat().to_dict()

    def connection_budget(self, workers: int, extra: Mapping[str, int] | None = None) -> str | None:
        """A warning when max_conns × workers, plus the ``extra`` connections other processes
        of ours open (by label), exceeds what the server has left for us."""
        with self.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT current_setting('max_connections')::int, "
                    "current_setting('superuser_reserved_connections')::int, "
                    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND application_name IS DISTINCT FROM :name)"
                ),
                {"name": self.application_name},
            ).one()
        max_connections, reserved, others = row
        available = max_connections - reserved - others
        web = self.options.max_conns * workers
        wanted = web + sum((extra or {}).values())
        if wanted <= available:
            return None
        more = "".join(f" + {count} for {label}" for label, count in (extra or {}).items())
        return (
            f"DB_POOL_MAX_CONNS ({self.options.max_conns}) x WEB_CONCURRENCY ({workers}) = "
            f"{web} connections{more + f' = {wanted} in all' if more else ''}, but the server "
            f"allows {max_connections} with {reserved} reserved and {others} used by other "
            f"clients ({available} left); lower DB_POOL_MAX_CONNS or raise max_connections"
        )

    def close(self) -> None:
        """Close every connection and stop the pool's maintenance thread."""
        self.pool.close()


def _application_name(url: DatabaseURL) -> str:
    query = dict(parse_qsl(urlsplit(url.raw).query))
    return query.get("application_name") or DEFAULT_APPLICATION_NAME


def describe_failure(exc: BaseException) -> str:
    """A one-line reason from a driver error, without SQLAlchemy's wrapping or parameters."""
    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, psycopg2.Error):
        message = str(inner).strip()
    else:
        message = f"{type(inner).__name__}: {inner}".strip()
    return " ".join(message.split())
