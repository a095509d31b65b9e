"""Go's ``time.Duration`` in Python: int64 nanoseconds that parse and print exactly like Go,
so a config value means the same thing to the Go backend and to this one.

The parser is a line-by-line port of ``time.ParseDuration`` (src/time/format.go, Go 1.18 and
later), including its uint64 arithmetic, its float64 scaling of fractions and its error texts.
Like Go it works on bytes: a ``str`` is encoded as UTF-8, with lone surrogates from
``surrogateescape`` (how ``os.environ`` carries undecodable bytes) turned back into those bytes.
"""

from __future__ import annotations

import datetime
import operator
from typing import ClassVar, SupportsIndex

__all__ = ["Duration", "DurationError", "parse_duration"]

_MIN_INT64 = -(1 << 63)
_MAX_INT64 = (1 << 63) - 1
_UINT64_MASK = (1 << 64) - 1

_NANOSECOND = 1
_MICROSECOND = 1000 * _NANOSECOND
_MILLISECOND = 1000 * _MICROSECOND
_SECOND = 1000 * _MILLISECOND
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE

_UNITS: dict[bytes, int] = {
    b"ns": _NANOSECOND,
    b"us": _MICROSECOND,
    "\u00b5s".encode(): _MICROSECOND,  # micro sign
    "\u03bcs".encode(): _MICROSECOND,  # Greek small letter mu
    b"ms": _MILLISECOND,
    b"s": _SECOND,
    b"m": _MINUTE,
    b"h": _HOUR,
}

_DOT = ord(".")
_ZERO = ord("0")
_NINE = ord("9")


class DurationError(ValueError):
    """A duration string that Go's ``time.ParseDuration`` rejects; the message is Go's own."""


class Duration(int):
    """Signed int64 nanoseconds whose ``str()`` is Go's ``Duration.String()``.

    ``Duration(n)`` takes any integer in int64 range and raises ``OverflowError`` outside it
    (as Python does for other fixed-width integers); ``Duration("1h30m")`` parses like
    ``parse_duration``, so ``eval(repr(d)) == d``. Arithmetic returns plain ``int``.
    """

    __slots__ = ()

    NANOSECOND: ClassVar[Duration]
    MICROSECOND: ClassVar[Duration]
    MILLISECOND: ClassVar[Duration]
    SECOND: ClassVar[Duration]
    MINUTE: ClassVar[Duration]
    HOUR: ClassVar[Duration]

    def __new__(cls, value: SupportsIndex | str | bytes = 0) -> Duration:
        if isinstance(value, str | bytes):
            value = parse_duration(value)
        nanoseconds = operator.index(value)
        if not _MIN_INT64 <= nanoseconds <= _MAX_INT64:
            raise OverflowError(f"duration of {nanoseconds}ns does not fit in a Go int64")
        return super().__new__(cls, nanoseconds)

    def __str__(self) -> str:
        return _format(int(self))

    def __repr__(self) -> str:
        return f"Duration({_format(int(self))!r})"

    @property
    def microseconds(self) -> int:
        """Whole microseconds, truncated toward zero like Go's ``Microseconds()``."""
        return _quo(int(self), _MICROSECOND)

    @property
    def milliseconds(self) -> int:
        """Whole milliseconds, truncated toward zero like Go's ``Milliseconds()``."""
        return _quo(int(self), _MILLISECOND)

    @property
    def seconds(self) -> float:
        """Seconds as a float, computed as Go's ``Seconds()`` does so the floats agree."""
        return _float_of(int(self), _SECOND)

    @property
    def minutes(self) -> float:
        """Minutes as a float, computed as Go's ``Minutes()`` does."""
        return _float_of(int(self), _MINUTE)

    @property
    def hours(self) -> float:
        """Hours as a float, computed as Go's ``Hours()`` does."""
        return _float_of(int(self), _HOUR)

    def to_timedelta(self) -> datetime.timedelta:
        """A timedelta (microsecond resolution), dropping sub-microsecond parts toward zero."""
        return datetime.timedelta(microseconds=self.microseconds)


Duration.NANOSECOND = Duration(_NANOSECOND)
Duration.MICROSECOND = Duration(_MICROSECOND)
Duration.MILLISECOND = Duration(_MILLISECOND)
Duration.SECOND = Duration(_SECOND)
Duration.MINUTE = Duration(_MINUTE)
Duration.HOUR = Duration(_HOUR)


def parse_duration(text: str | bytes) -> Duration:
    """Parse a Go duration string ("300ms", "-1.5h", "2h45m") exactly as ``time.ParseDuration``."""
    s = _go_bytes(text)
    n = len(s)
    i = 0
    neg = False
    if s[:1] in (b"-", b"+"):
        neg = s[:1] == b"-"
        i = 1
    if s[i:] == b"0":
        return Duration(0)
    if i == n:
        raise _invalid(s)
    d = 0
    while i < n:
        if not (s[i] == _DOT or _ZERO <= s[i] <= _NINE):
            raise _invalid(s)

        # leadingInt: fails past 1<<63 (Go's second, pre-multiply check only stops uint64 wrap).
        start = i
        v = 0
        while i < n and _ZERO <= s[i] <= _NINE:
            v = v * 10 + s[i] - _ZERO
            if v > 1 << 63:
                raise _invalid(s)
            i += 1
        pre = i != start

        # leadingFraction: past 1<<63 it ignores further digits instead of failing.
        post = False
        f = 0
        scale = 1.0
        if i < n and s[i] == _DOT:
            i += 1
            start = i
            overflow = False
            while i < n and _ZERO <= s[i] <= _NINE:
                if not overflow:
                    y = f * 10 + s[i] - _ZERO
                    if y > 1 << 63:
                        overflow = True
                    else:
                        f = y
                        scale *= 10
                i += 1
            post = i != start
        if not pre and not post:
            raise _invalid(s)

        start = i
        while i < n and not (s[i] == _DOT or _ZERO <= s[i] <= _NINE):
            i += 1
        if i == start:
            raise DurationError("time: missing unit in duration " + _quote(s))
        unit = _UNITS.get(s[start:i])
        if unit is None:
            raise DurationError(f"time: unknown unit {_quote(s[start:i])} in duration {_quote(s)}")
        if v > (1 << 63) // unit:
            raise _invalid(s)
        v *= unit
        if f > 0:
            # Go's float64 scaling and truncation, rounding quirks included ("0.45117073500000h"
            # is 1ns short of "0.451170735h").
            v += int(float(f) * (float(unit) / scale))
            if v > 1 << 63:
                raise _invalid(s)
        # Go adds in uint64: two components of exactly 1<<63 wrap the total to 0.
        d = (d + v) & _UINT64_MASK
        if d > 1 << 63:
            raise _invalid(s)
    if neg:
        return Duration(-d)
    if d > _MAX_INT64:
        raise _invalid(s)
    return Duration(d)


def _go_bytes(text: str | bytes) -> bytes:
    """The bytes Go would hold for ``text``; undecodable bytes smuggled as surrogates return."""
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str):
        raise TypeError(f"parse_duration() takes str or bytes, not {type(text).__name__}")
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _invalid(s: bytes) -> DurationError:
    return DurationError("time: invalid duration " + _quote(s))


def _quote(s: bytes) -> str:
    """Go's private ``time.quote``: every byte of a control or non-ASCII rune becomes ``\\xNN``."""
    # Go walks runes, but it escapes each byte of any rune >= 0x80 and each invalid byte alike,
    # which comes to the same as walking bytes.
    out = ['"']
    for b in s:
        if b < 0x20 or b >= 0x80:
            out.append(f"\\x{b:02x}")
        elif b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        else:
            out.append(chr(b))
    out.append('"')
    return "".join(out)


def _format(n: int) -> str:
    """Go's ``Duration.String()``: "72h3m0.5s", with sub-second values in ns, µs or ms."""
    u = abs(n)
    sign = "-" if n < 0 else ""
    if u == 0:
        return "0s"
    if u < _MICROSECOND:
        return f"{sign}{u}ns"
    if u < _MILLISECOND:
        return sign + _decimal(u, 3) + "\u00b5s"
    if u < _SECOND:
        return sign + _decimal(u, 6) + "ms"
    seconds, minutes = u % _MINUTE, u // _MINUTE
    text = _decimal(seconds, 9) + "s"
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _decimal(v: int, prec: int) -> str:
    """``v / 10**prec`` with trailing zeros, and a bare trailing point, dropped."""
    whole, frac = divmod(v, 10**prec)
    digits = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _quo(n: int, unit: int) -> int:
    """Go's integer division, which truncates toward zero where Python's floors."""
    q = abs(n) // unit
    return -q if n < 0 else q


def _float_of(n: int, unit: int) -> float:
    whole = _quo(n, unit)
    return float(whole) + float(n - whole * unit) / unit
