"""Health contributors: named checks that plugins add to the rich health payload."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "degraded", "fail"]

STATUSES: tuple[Status, ...] = ("ok", "degraded", "fail")

# Top-level keys of the rich payload; a section named like one would be confusing to read.
RESERVED_NAMES = frozenset(
    {
        "status",
        "version",
        "commit",
        "environment",
        "started_at",
        "uptime_s",
        "checked_at",
        "duration_ms",
        "checks",
    }
)

MAX_NAME_LENGTH = 40
MAX_MESSAGE_LENGTH = 200

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: a status, an optional short message and JSON-able data."""

    status: Status
    message: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.message is not None and not isinstance(self.message, str):
            raise TypeError(f"message must be a str or None, not {type(self.message).__name__}")
        if not isinstance(self.data, Mapping):
            raise TypeError(f"data must be a mapping, not {type(self.data).__name__}")


def ok(data: Mapping[str, Any] | None = None, *, message: str | None = None) -> CheckResult:
    """Build a healthy result, so checks read as ``return ok({"open": 3})``."""
    return CheckResult("ok", message, {} if data is None else data)


def degraded(message: str | None = None, *, data: Mapping[str, Any] | None = None) -> CheckResult:
    """Build a degraded result: working, but an operator should look."""
    return CheckResult("degraded", message, {} if data is None else data)


def fail(message: str | None = None, *, data: Mapping[str, Any] | None = None) -> CheckResult:
    """Build a failed result: the subsystem is not doing its job."""
    return CheckResult("fail", message, {} if data is None else data)


def as_result(value: object) -> CheckResult:
    """Normalise what a check returned: a mapping means ``ok`` with that data."""
    if isinstance(value, CheckResult):
        return value
    if isinstance(value, Mapping):
        return CheckResult("ok", None, value)
    raise TypeError(
        f"a health check must return a CheckResult or a mapping, not {type(value).__name__}"
    )


@dataclass(frozen=True)
class HealthContributor:
    """One named section of the rich health payload, with its check, criticality and timeout."""

    name: str
    check: Callable[[], CheckResult | Mapping[str, Any]]
    critical: bool = False
    timeout: float = 2.0
    description: str = ""

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ValueError(
                f"health contributor name {name!r} must be a lowercase identifier "
                "matching [a-z][a-z0-9_]*"
            )
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"health contributor name {name!r} is longer than {MAX_NAME_LENGTH} characters"
            )
        if name in RESERVED_NAMES:
            raise ValueError(
                f"health contributor name {name!r} is reserved: it is a top-level key of the "
                f"health payload ({', '.join(sorted(RESERVED_NAMES))})"
            )
        if not callable(self.check):
            raise TypeError(f"health contributor {name!r}: check must be callable")
        if not isinstance(self.critical, bool):
            raise TypeError(f"health contributor {name!r}: critical must be a bool")
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(
                f"health contributor {name!r}: timeout must be a positive number of seconds, "
                f"not {timeout!r}"
            )
        object.__setattr__(self, "timeout", float(timeout))
        if not isinstance(self.description, str):
            raise TypeError(f"health contributor {name!r}: description must be a str")


def isoformat_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with a ``Z``, the payload's one time format."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
