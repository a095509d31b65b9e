"""The database plugin's settings: the URL and pgxpool's bounds and timings."""

from __future__ import annotations

from ocore_database.url import DatabaseURL, parse_database_url
from ocore_flask.config import (
    REQUIRED,
    Check,
    Context,
    CrossRule,
    Duration,
    Kind,
    Secret,
    kinds,
    section,
    setting,
    settings_of,
)


def _no_placeholder_password(url: DatabaseURL, _: Context) -> str | None:
    if url.password and url.password.startswith("<") and url.password.endswith(">"):
        return "still has the example's <password> placeholder: put the real password in"
    return None


DATABASE_URL_KIND = Kind(
    "postgres-url",
    "postgres:// or postgresql:// URL with host and database; sslmode one of disable, allow, "
    "prefer, require, verify-ca, verify-full",
    parse_database_url,
    render=lambda url: url.raw,
    safe_render=lambda url: url.redacted,
    secret_parts=lambda url: url.secret_parts(),
)


@section
class DatabaseSettings:
    """The database plugin's settings: the URL, the pool's bounds and its timings."""

    url: Secret[DatabaseURL] = setting(
        "DATABASE_URL",
        DATABASE_URL_KIND,
        "PostgreSQL connection URL (the pool is shared by the ORM, health and jobs).",
        default=REQUIRED,
        secret=True,
        example="postgres://ocore:<password>@db:5432/ocore?sslmode=disable",
        fix="e.g. postgres://ocore:PASSWORD@db:5432/ocore?sslmode=disable",
        checks=(Check("no placeholder password", _no_placeholder_password),),
    )

    pool_min_conns: int = setting(
        "DB_POOL_MIN_CONNS",
        kinds.integer(0, 10_000),
        "Connections opened at startup and kept warm.",
        default="2",
        example="2",
    )

    pool_max_conns: int = setting(
        "DB_POOL_MAX_CONNS",
        kinds.integer(1, 10_000),
        "Most connections kept; tune against max_connections and the number of workers.",
        default="25",
        example="25",
    )

    pool_max_conn_lifetime: Duration = setting(
        "DB_POOL_MAX_CONN_LIFETIME",
        kinds.duration(),
        "A connection is replaced after this long.",
        default="1h",
        example="1h",
    )

    pool_max_conn_idle_time: Duration = setting(
        "DB_POOL_MAX_CONN_IDLE_TIME",
        kinds.duration(),
        "Idle connections above the minimum close after this long.",
        default="30m",
        example="30m",
    )

    pool_health_check_period: Duration = setting(
        "DB_POOL_HEALTH_CHECK_PERIOD",
        kinds.duration(),
        "How often idle connections are checked and the minimum restored.",
        default="1m",
        example="1m",
    )

    pool_acquire_timeout: Duration = setting(
        "DB_POOL_ACQUIRE_TIMEOUT",
        kinds.duration(),
        "How long a request waits for a free connection before failing clearly.",
        default="5s",
        example="5s",
    )

    connect_timeout: Duration = setting(
        "DB_CONNECT_TIMEOUT",
        kinds.duration(),
        "Timeout of one connection attempt.",
        default="5s",
        example="5s",
    )

    startup_timeout: Duration = setting(
        "DB_STARTUP_TIMEOUT",
        kinds.duration(),
        "How long startup waits for PostgreSQL before exiting (status 69).",
        default="15s",
        example="30s",
    )


SETTINGS = settings_of(DatabaseSettings)


def _max_at_least_min(ctx: Context) -> str | None:
    low, high = ctx.values["DB_POOL_MIN_CONNS"], ctx.values["DB_POOL_MAX_CONNS"]
    if high < low:
        return f"must be at least DB_POOL_MIN_CONNS ({low}); it is {high}"
    return None


CROSS_RULES = (
    CrossRule(
        "DB_POOL_MAX_CONNS",
        ("DB_POOL_MIN_CONNS",),
        ">= DB_POOL_MIN_CONNS",
        _max_at_least_min,
    ),
)
