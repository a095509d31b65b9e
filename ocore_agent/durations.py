"""Go durations (``time.ParseDuration``) for ``--interval``: ``30s``, ``1m30s``, ``500ms``.

A small local parser: the agent imports nothing of the server side. It accepts Go's grammar
(optional sign, one or more decimal numbers with optional fraction, each with a unit: ns, us,
µs, μs, ms, s, m, h; or a bare ``0``) and returns nanoseconds.
"""

from __future__ import annotations

import re

NANOSECOND = 1
UNITS = {
    "ns": NANOSECOND,
    "us": 1_000,
    "\u00b5s": 1_000,  # µ (micro sign)
    "\u03bcs": 1_000,  # μ (Greek mu)
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
MAX_INT64 = 2**63 - 1
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


class DurationError(ValueError):
    """Not a Go duration; the message is Go's."""


def parse_duration(text: str) -> int:
    """``text`` as signed nanoseconds, exactly as Go's ``time.ParseDuration`` reads it."""
    quoted = f'"{text}"'
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise DurationError(f"time: invalid duration {quoted}")
    total, position = 0, 0
    while position < len(rest):
        match = _PART.match(rest, position)
        assert match is not None  # every group may be empty
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction:
            raise DurationError(f"time: invalid duration {quoted}")
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = UNITS[unit]
        value = int(whole or "0") * scale
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
        total += value
        if total > MAX_INT64 + (1 if negative else 0):
            raise DurationError(f"time: invalid duration {quoted}")
        position = match.end()
    return -total if negative else total


def seconds(text: str) -> float:
    """``text`` parsed as a Go duration, in seconds."""
    return parse_duration(text) / UNITS["s"]
