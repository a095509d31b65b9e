"""Freshness: judge how long ago something last happened (a backup, a heartbeat, a queue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocore_flask.health.contributor import CheckResult, isoformat_utc


def freshness(
    observed_at: datetime | None,
    *,
    warn_after: timedelta,
    fail_after: timedelta,
    now: datetime | None = None,
) -> CheckResult:
    """Rate an observation time against warn/fail ages, so every section reads ages alike."""
    if not isinstance(warn_after, timedelta) or not isinstance(fail_after, timedelta):
        raise TypeError("warn_after and fail_after must be timedeltas")
    if warn_after < timedelta(0):
        raise ValueError("warn_after must not be negative")
    if warn_after > fail_after:
        raise ValueError(
            f"warn_after ({warn_after}) must not be greater than fail_after ({fail_after})"
        )
    if now is None:
        now = datetime.now(UTC)
    _require_aware(now, "now")
    limits = {
        "warn_after_s": warn_after.total_seconds(),
        "fail_after_s": fail_after.total_seconds(),
    }
    if observed_at is None:
        return CheckResult("fail", "never observed", {"observed_at": None, "age_s": None, **limits})
    _require_aware(observed_at, "observed_at")

    # A time slightly in the future (clock skew between hosts) counts as just now.
    age = max(now - observed_at, timedelta(0))
    data = {
        "observed_at": isoformat_utc(observed_at),
        "age_s": round(age.total_seconds(), 3),
        **limits,
    }
    ago = f"observed {format_age(age)} ago"
    if age > fail_after:
        return CheckResult("fail", f"{ago}, older than {format_age(fail_after)}", data)
    if age > warn_after:
        return CheckResult("degraded", f"{ago}, older than {format_age(warn_after)}", data)
    return CheckResult("ok", ago, data)


def format_age(age: timedelta) -> str:
    """Render a duration in at most two units ("45s", "3h 5m", "2d 4h") for short messages."""
    seconds = int(age.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    units = ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
    first = next((i for i, (amount, _) in enumerate(units) if amount), len(units) - 1)
    shown = [f"{amount}{unit}" for amount, unit in units[first : first + 2] if amount]
    return " ".join(shown) or "0s"


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
