"""Pieces without a server: retention rules, cron ticks, the directory destination."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocore_backups.destination import Destination, DestinationError, DirectoryDestination
from ocore_backups.errors import InvalidPolicy
from ocore_backups.policies import check_schedule, go_duration
from ocore_backups.retention import prunable
from ocore_backups.runs import Run
from ocore_backups.tasks import due_tick

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = Run(
    id=0,
    policy="p",
    policy_id=1,
    job_id=None,
    trigger="schedule",
    status="succeeded",
    started_at=NOW,
    finished_at=NOW,
    size_bytes=1,
    sha256="x",
    path="p/x",
    exit_status=0,
    stderr_line=None,
    error=None,
    pruned_at=None,
    verified_at=None,
    verify_error=None,
)


def stored(*hours_ago: float) -> list[Run]:
    """Successes finished ``hours_ago`` (ids in the same order)."""
    return [
        replace(BASE, id=i, finished_at=NOW - timedelta(hours=h))
        for i, h in enumerate(hours_ago, start=1)
    ]


def ids(runs: list[Run]) -> list[int]:
    return sorted(run.id for run in runs)


def test_retention_keeps_the_last_n_and_or_the_young_ones() -> None:
    runs = stored(1, 2, 3, 30, 50)
    assert prunable(runs, None, None, NOW) == []  # no rule: keep everything
    assert ids(prunable(runs, 2, None, NOW)) == [3, 4, 5]
    assert ids(prunable(runs, None, timedelta(hours=24), NOW)) == [4, 5]
    # either rule keeps a run: the last 4, or younger than 2.5 h
    assert ids(prunable(runs, 4, timedelta(hours=2, minutes=30), NOW)) == [5]
    assert ids(prunable(runs, 1, timedelta(hours=2, minutes=30), NOW)) == [3, 4, 5]


def test_retention_never_prunes_the_last_success() -> None:
    old = stored(100, 200)
    assert ids(prunable(old, None, timedelta(hours=1), NOW)) == [2]  # the newest stays
    assert prunable(stored(100), 1, timedelta(seconds=1), NOW) == []


def test_due_tick_is_the_latest_tick_since_the_last_one_queued() -> None:
    last = datetime(2026, 3, 1, 2, 59, tzinfo=UTC)
    daily = "0 3 * * *"
    assert due_tick(daily, last, datetime(2026, 3, 1, 2, 59, 59, tzinfo=UTC)) is None
    exact = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    assert due_tick(daily, last, exact) == exact
    # a worker down for three days: one run, for the latest tick
    assert due_tick(daily, last, datetime(2026, 3, 4, 5, 0, tzinfo=UTC)) == datetime(
        2026, 3, 4, 3, 0, tzinfo=UTC
    )
    assert due_tick("*/15 * * * *", exact, datetime(2026, 3, 1, 3, 20, tzinfo=UTC)) == (
        datetime(2026, 3, 1, 3, 15, tzinfo=UTC)
    )


@pytest.mark.parametrize("schedule", ["* * * *", "* * * * * *", "99 * * * *", "tomorrow", ""])
def test_schedules_need_five_valid_fields(schedule: str) -> None:
    with pytest.raises(InvalidPolicy, match="not a cron expression"):
        check_schedule(schedule)


def test_schedules_are_normalised() -> None:
    assert check_schedule("  30   2 * * 1-5 ") == "30 2 * * 1-5"
    assert check_schedule("@daily") == "@daily"
    assert go_duration(timedelta(hours=26, minutes=30)) == "26h30m0s"


def test_the_directory_destination_commits_atomically_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "backups"
    destination = DirectoryDestination(root)
    assert isinstance(destination, Destination)
    upload = destination.open_temp("pol")
    upload.write(b"abc" * 1000)
    folder = root / "pol"
    [temp] = folder.iterdir()
    assert temp.name.startswith(".tmp-") and stat.S_IMODE(temp.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == stat.S_IMODE(folder.stat().st_mode) == 0o700

    key = destination.commit(upload, "pol-1.backup")
    assert key == "pol/pol-1.backup"
    assert [p.name for p in folder.iterdir()] == ["pol-1.backup"]
    with destination.open_read(key) as source:
        assert source.read() == b"abc" * 1000

    second = destination.open_temp("pol")
    second.write(b"other")
    with pytest.raises(FileExistsError):  # a stored backup is never replaced
        destination.commit(second, "pol-1.backup")
    assert [p.name for p in folder.iterdir()] == ["pol-1.backup"]  # the temporary went too

    third = destination.open_temp("pol")
    destination.abort(third)
    assert [p.name for p in folder.iterdir()] == ["pol-1.backup"]
    assert destination.delete(key) and not destination.delete(key)
    with pytest.raises(DestinationError, match="missing"):
        destination.open_read(key)


@pytest.mark.parametrize("key", ["../x", "pol/../../etc/passwd", "/abs/x", "pol/.tmp-1", "pol"])
def test_keys_cannot_escape_the_destination(tmp_path: Path, key: str) -> None:
    with pytest.raises(DestinationError, match="not a backup key"):
        DirectoryDestination(tmp_path).path_of(key)
