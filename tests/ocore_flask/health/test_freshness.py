"""Tests for the freshness helper (backups, heartbeats, queue age)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ocore_flask.health.freshness import format_age, freshness

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WARN = timedelta(hours=24)
FAIL = timedelta(hours=48)


def _rate(age: timedelta | None):
    observed = None if age is None else NOW - age
    return freshness(observed, warn_after=WARN, fail_after=FAIL, now=NOW)


def test_recent_observation_is_ok_with_data() -> None:
    result = _rate(timedelta(hours=3, minutes=5))
    assert result.status == "ok"
    assert result.message == "observed 3h 5m ago"
    assert result.data == {
        "observed_at": "2024-05-01T08:55:00.000Z",
        "age_s": 11_100.0,
        "warn_after_s": 86_400.0,
        "fail_after_s": 172_800.0,
    }


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (timedelta(0), "ok"),
        (WARN, "ok"),
        (WARN + timedelta(seconds=1), "degraded"),
        (FAIL, "degraded"),
        (FAIL + timedelta(seconds=1), "fail"),
        (timedelta(days=30), "fail"),
    ],
)
def test_status_follows_the_thresholds(age: timedelta, status: str) -> None:
    assert _rate(age).status == status


def test_messages_name_the_exceeded_age() -> None:
    assert _rate(timedelta(hours=26)).message == "observed 1d 2h ago, older than 1d"
    assert _rate(timedelta(hours=50)).message == "observed 2d 2h ago, older than 2d"


def test_never_observed_fails() -> None:
    result = _rate(None)
    assert result.status == "fail"
    assert result.message == "never observed"
    assert result.data["observed_at"] is None
    assert result.data["age_s"] is None


def test_future_observation_counts_as_just_now() -> None:
    result = _rate(-timedelta(seconds=30))
    assert result.status == "ok"
    assert result.data["age_s"] == 0.0


def test_other_timezones_are_reported_in_utc() -> None:
    observed = datetime(2024, 5, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    result = freshness(observed, warn_after=WARN, fail_after=FAIL, now=NOW)
    assert result.data["observed_at"] == "2024-05-01T11:00:00.000Z"
    assert result.data["age_s"] == 3600.0


def test_now_defaults_to_the_current_time() -> None:
    result = freshness(datetime.now(UTC), warn_after=WARN, fail_after=FAIL)
    assert result.status == "ok"
    assert result.data["age_s"] < 5


def test_warn_after_must_not_exceed_fail_after() -> None:
    with pytest.raises(ValueError, match="must not be greater than fail_after"):
        freshness(NOW, warn_after=FAIL, fail_after=WARN, now=NOW)


def test_negative_warn_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        freshness(NOW, warn_after=-WARN, fail_after=FAIL, now=NOW)


def test_thresholds_must_be_timedeltas() -> None:
    with pytest.raises(TypeError, match="timedeltas"):
        freshness(NOW, warn_after=60, fail_after=FAIL, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["observed_at", "now"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    kwargs = {"observed_at": NOW, "now": NOW, field: naive}
    with pytest.raises(ValueError, match=f"{field} must be timezone-aware"):
        freshness(kwargs["observed_at"], warn_after=WARN, fail_after=FAIL, now=kwargs["now"])


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=12), "12m"),
        (timedelta(hours=3, minutes=5, seconds=9), "3h 5m"),
        (timedelta(days=1, minutes=5), "1d"),
        (timedelta(days=2, hours=4), "2d 4h"),
    ],
)
def test_format_age(age: timedelta, text: str) -> None:
    assert format_age(age) == text
