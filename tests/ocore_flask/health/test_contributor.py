"""Tests for health contributor declarations and check results."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ocore_flask.health.contributor import (
    RESERVED_NAMES,
    CheckResult,
    HealthContributor,
    as_result,
    degraded,
    fail,
    isoformat_utc,
    ok,
)


def _check() -> dict[str, int]:
    return {}


def test_contributor_defaults() -> None:
    contributor = HealthContributor("database", _check)
    assert contributor.critical is False
    assert contributor.timeout == 2.0
    assert contributor.description == ""


def test_integer_timeout_is_stored_as_float() -> None:
    assert HealthContributor("db", _check, timeout=3).timeout == 3.0
    assert isinstance(HealthContributor("db", _check, timeout=3).timeout, float)


@pytest.mark.parametrize(
    "name", ["", "Database", "1db", "_db", "db-pool", "db pool", "dé", "a" * 41, None]
)
def test_invalid_names_are_rejected(name: object) -> None:
    with pytest.raises(ValueError, match="health contributor name"):
        HealthContributor(name, _check)  # type: ignore[arg-type]


def test_name_of_forty_characters_is_accepted() -> None:
    assert HealthContributor("a" * 40, _check).name == "a" * 40


def test_reserved_names_are_the_top_level_payload_keys() -> None:
    expected = {
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
    assert expected == RESERVED_NAMES


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_reserved_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name!r} is reserved"):
        HealthContributor(name, _check)


@pytest.mark.parametrize("timeout", [0, -1, 0.0, math.nan, math.inf, True, "2"])
def test_timeout_must_be_a_positive_finite_number(timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        HealthContributor("db", _check, timeout=timeout)  # type: ignore[arg-type]


def test_check_must_be_callable() -> None:
    with pytest.raises(TypeError, match="check must be callable"):
        HealthContributor("db", {"status": "ok"})  # type: ignore[arg-type]


def test_critical_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="critical must be a bool"):
        HealthContributor("db", _check, critical="yes")  # type: ignore[arg-type]


def test_contributor_is_frozen() -> None:
    contributor = HealthContributor("db", _check)
    with pytest.raises(AttributeError):
        contributor.critical = True  # type: ignore[misc]


def test_helpers_build_results() -> None:
    assert ok({"open": 3}) == CheckResult("ok", None, {"open": 3})
    assert ok(message="fine") == CheckResult("ok", "fine", {})
    assert degraded("slow", data={"ms": 900}) == CheckResult("degraded", "slow", {"ms": 900})
    assert fail("down") == CheckResult("fail", "down", {})
    assert fail().data == {}


def test_check_result_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="status must be one of ok, degraded, fail"):
        CheckResult("warning")  # type: ignore[arg-type]


def test_check_result_rejects_non_string_message_and_non_mapping_data() -> None:
    with pytest.raises(TypeError, match="message"):
        CheckResult("ok", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data"):
        CheckResult("ok", None, [1, 2])  # type: ignore[arg-type]


def test_as_result_treats_a_mapping_as_ok_data() -> None:
    assert as_result({"open": 1}) == CheckResult("ok", None, {"open": 1})
    result = degraded("slow")
    assert as_result(result) is result


@pytest.mark.parametrize("value", [None, [1], "ok", 1])
def test_as_result_rejects_other_values(value: object) -> None:
    with pytest.raises(TypeError, match="must return a CheckResult or a mapping"):
        as_result(value)


def test_isoformat_utc_converts_to_utc_with_z() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert isoformat_utc(moment) == "2024-05-01T12:00:00.123Z"
    assert isoformat_utc(datetime(2024, 5, 1, tzinfo=UTC)) == "2024-05-01T00:00:00.000Z"


def test_isoformat_utc_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        isoformat_utc(datetime(2024, 5, 1))
