"""The pool's errors, as SQLAlchemy exception subclasses."""

from __future__ import annotations

from sqlalchemy import exc


class PoolTimeoutError(exc.TimeoutError):
    """No connection became free within ``acquire_timeout`` while the pool was at max_conns."""


class PoolClosedError(exc.InvalidRequestError):
    """A connection was requested from a pool after ``close()``."""
