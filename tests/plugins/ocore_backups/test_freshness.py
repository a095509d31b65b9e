"""Freshness per policy (ok, late, stale, never; failing) with short real durations, and the
``backups`` health section built from it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from flask import Flask

import ocore_backups
from ocore_backups.freshness import rate
from ocore_backups.health import CONTRIBUTOR, SECTION
from ocore_database.testing import database_unreachable
from ocore_flask.testing import (
    JWT_SECRET,
    assert_contributor_conforms,
    rich_health,
    wait_for,
)


def states(app: Flask) -> dict[str, tuple[str, bool]]:
    return {f.policy: (f.state, f.failing) for f in ocore_backups.backups(app).freshness()}


def test_ok_then_late_then_stale_with_short_durations(app: Flask, add_policy) -> None:
    add_policy("quick", "echo data", max_age="1s", grace="1s")
    add_policy("idle", "echo data")
    assert states(app) == {"quick": ("never", False), "idle": ("never", False)}

    assert ocore_backups.backups(app).run("quick").status == "succeeded"
    assert states(app)["quick"] == ("ok", False)
    assert wait_for(lambda: states(app)["quick"] == ("late", False), timeout=3, interval=0.05)
    assert wait_for(lambda: states(app)["quick"] == ("stale", False), timeout=3, interval=0.05)

    status, payload = rich_health(app)
    section = payload["checks"][SECTION]
    assert status == 200 and payload["status"] == "degraded"
    assert section["status"] == "degraded" and section["critical"] is False
    assert section["message"] == "stale: quick; never: idle"
    data = section["data"]
    assert data["counts"] == {"ok": 0, "late": 0, "stale": 1, "never": 1, "failing": 0}
    assert [w["policy"] for w in data["worst"]] == ["quick", "idle"]  # stale first
    assert data["worst"][0]["age_s"] >= 2 and data["worst"][0]["age"].endswith("s")
    assert data["worst"][1]["last_success_at"] is None


def test_failing_after_n_failed_attempts_even_while_fresh(
    backups_app, sshd, backup_key, remote_folder
) -> None:
    from ocore_backups.testing import add_backup_server

    app = backups_app(BACKUP_FAILING_AFTER="2")
    add_backup_server(app, sshd, backup_key)
    service = ocore_backups.backups(app)
    flag = remote_folder() / "fail"
    service.add_policy(
        "shaky",
        server="db1",
        command=f"test -e {flag} && exit 1; echo ok",
        restore_command="cat",
        schedule="@daily",
        max_age="1h",
        grace="1h",
    )
    service.run("shaky")
    flag.write_text("")
    service.run("shaky")
    assert states(app)["shaky"] == ("ok", False)  # one failure is not failing yet
    service.run("shaky")
    assert states(app)["shaky"] == ("ok", True)

    _, payload = rich_health(app)
    section = payload["checks"][SECTION]
    assert section["status"] == "degraded" and section["message"] == "failing: shaky"
    assert section["data"]["counts"]["failing"] == 1
    assert section["data"]["worst"][0]["last_run"]["status"] == "failed"

    flag.unlink()
    service.run("shaky")
    assert states(app)["shaky"] == ("ok", False)
    _, payload = rich_health(app)
    assert payload["checks"][SECTION]["status"] == "ok"


def test_rate_reads_the_host_freshness_helper() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert rate(None, hour, hour, now) == "never"
    assert rate(now - timedelta(minutes=59), hour, hour, now) == "ok"
    assert rate(now - timedelta(minutes=61), hour, hour, now) == "late"
    assert rate(now - timedelta(minutes=121), hour, hour, now) == "stale"
    assert rate(now - timedelta(minutes=61), hour, timedelta(0), now) == "stale"  # no grace
    assert rate(now + timedelta(minutes=5), hour, hour, now) == "ok"  # clock skew


def test_no_backup_dir_with_policies_is_degraded(app: Flask, add_policy) -> None:
    add_policy("any", "echo data")
    ocore_backups.backups(app).run("any")
    ocore_backups.backups(app).destination = None
    _, payload = rich_health(app)
    section = payload["checks"][SECTION]
    assert section["status"] == "degraded" and section["message"] == "BACKUP_DIR is not set"


def test_the_contributor_conforms_and_fails_cleanly_without_its_database(
    app: Flask, add_policy
) -> None:
    add_policy("any", "echo data")
    service = ocore_backups.backups(app)

    def database_down() -> AbstractContextManager[None]:
        return database_unreachable(service)

    assert_contributor_conforms(
        CONTRIBUTOR, app=app, secrets=[JWT_SECRET], dependency_down=database_down
    )
    with database_down(), app.app_context():
        result = CONTRIBUTOR.check()
    assert result.status == "fail"
    assert result.message == "cannot read the backup policies: OperationalError"
