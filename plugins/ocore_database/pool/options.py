"""Duration options: seconds, timedelta or anything with ``to_timedelta()``, checked."""

from __future__ import annotations

import datetime
from typing import Protocol

from sqlalchemy import exc


class _HasTimedelta(Protocol):
    def to_timedelta(self) -> datetime.timedelta: ...


DurationLike = float | int | datetime.timedelta | _HasTimedelta


def duration_seconds(name: str, value: DurationLike) -> float:
    """``value`` in seconds; ``name`` (the option) is for the error when it is negative."""
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif hasattr(value, "to_timedelta"):
        seconds = value.to_timedelta().total_seconds()
    else:
        seconds = float(value)
    if seconds < 0:
        raise exc.ArgumentError(f"{name} must not be negative: {value!r}")
    return seconds
