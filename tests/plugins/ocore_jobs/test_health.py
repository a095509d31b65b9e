"""The ``job_queue`` section of the rich health payload in each state, read in-process (a live
worker is a fresh heartbeat row; the module's other tests run real workers): ok on an idle
queue without workers, degraded while jobs wait with no worker alive or for too long, never
critical, failing cleanly when the database is unreachable."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from ocore_database.testing import database_unreachable
from ocore_flask.testing import JWT_SECRET, assert_contributor_conforms, rich_health
from ocore_jobs import jobs
from ocore_jobs.health import CONTRIBUTOR, judge
from ocore_jobs.queries import QueueCounts, QueueStatus


def section(app) -> tuple[int, dict, dict]:
    status, payload = rich_health(app)
    return status, payload, payload["checks"]["job_queue"]


def live_worker(engine: Engine, ago: str = "0 seconds") -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - CAST(:ago AS interval))"
            ),
            {"ago": ago},
        )


@pytest.fixture
def no_workers(clean: Engine) -> Engine:
    with clean.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_workers"))
    return clean


def test_an_idle_queue_without_workers_is_ok(jobs_app, no_workers):
    status, payload, found = section(jobs_app())
    assert status == 200 and found["status"] == "ok" and found["critical"] is False
    data = found["data"]
    assert data["counts"] == dict.fromkeys(
        ("todo", "doing", "succeeded", "failed", "cancelled", "aborted"), 0
    )
    assert data["waiting"] == 0 and data["oldest_waiting_s"] is None
    assert data["workers_alive"] == 0 and data["failures_last_hour"] == 0
    assert data["queues"] == {} and data["max_wait_s"] == 300.0


def test_jobs_waiting_with_no_worker_alive_is_degraded_not_critical(jobs_app, no_workers):
    app = jobs_app()
    jobs(app).defer("jobtest.record", {"label": "w1"})
    jobs(app).defer("jobtest.record", {"label": "w2"}, delay=3600)  # not due: not waiting
    live_worker(no_workers, ago="1 minute")  # heartbeat older than JOBS_STALL_THRESHOLD
    status, payload, found = section(app)
    assert status == 200 and payload["status"] == "degraded"  # still in the load balancer
    assert found["status"] == "degraded"
    assert found["message"] == "1 job(s) waiting and no worker alive: start `ocore worker`"
    assert found["data"]["counts"]["todo"] == 2 and found["data"]["waiting"] == 1
    assert found["data"]["workers_alive"] == 0


def test_a_job_waiting_longer_than_the_threshold_is_degraded(jobs_app, no_workers):
    app = jobs_app(JOBS_HEALTH_MAX_WAIT="2m")
    job_id = jobs(app).defer("jobtest.other_queue", {"label": "old"})
    live_worker(no_workers)
    assert section(app)[2]["status"] == "ok"  # a fresh job with a live worker
    with no_workers.begin() as conn:
        conn.execute(
            text(
                "UPDATE procrastinate_events SET at = now() - interval '7 minutes' "
                "WHERE job_id = :i"
            ),
            {"i": job_id},
        )
    _, _, found = section(app)
    assert found["status"] == "degraded"
    assert found["message"].startswith("the oldest waiting job has waited 7m")
    assert found["message"].endswith("longer than JOBS_HEALTH_MAX_WAIT (2m)")
    assert found["data"]["queues"]["other"]["oldest_waiting_s"] >= 420


def test_failures_in_the_last_hour_are_counted(jobs_app, no_workers):
    app = jobs_app()
    job_id = jobs(app).defer("jobtest.record", {"label": "f"})
    with no_workers.begin() as conn:
        for age in ("5 minutes", "2 hours"):
            conn.execute(
                text(
                    "INSERT INTO jobs_errors (job_id, attempt, task_name, queue_name, reason, "
                    "failed_at) VALUES (:i, 1, 'jobtest.record', 'default', 'x', "
                    "now() - CAST(:age AS interval))"
                ),
                {"i": job_id, "age": age},
            )
    live_worker(no_workers)
    _, _, found = section(app)
    assert found["status"] == "ok"
    assert found["data"]["failures_last_hour"] == 1
    assert found["data"]["queues"]["default"]["failures_last_hour"] == 1


def test_judge_reads_waits_with_the_freshness_rules():
    counts = QueueCounts()
    counts.add("todo", 3, 3, None)
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    counts.waiting_since = now - timedelta(seconds=59)
    state = QueueStatus(now, counts, {"default": counts}, workers_alive=1)
    assert judge(state, timedelta(minutes=1)).status == "ok"
    counts.waiting_since = now - timedelta(seconds=61)
    assert judge(state, timedelta(minutes=1)).status == "degraded"
    state.workers_alive = 0
    assert "no worker alive" in judge(state, timedelta(hours=1)).message


def test_the_contributor_conforms_and_fails_cleanly_without_its_database(jobs_app, no_workers):
    app = jobs_app()
    service = jobs(app)

    def database_down() -> AbstractContextManager[None]:
        return database_unreachable(service)

    assert_contributor_conforms(
        CONTRIBUTOR, app=app, secrets=[JWT_SECRET], dependency_down=database_down
    )
    with database_down(), app.app_context():
        result = CONTRIBUTOR.check()
    assert result.status == "fail" and result.message.startswith("cannot read the job queue")


def test_missing_tables_are_reported(make_app, empty_database):
    env = {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}
    import ocore_database
    import ocore_jobs

    app = make_app(
        {**env, "DATABASE_URL": empty_database}, [ocore_database.plugin, ocore_jobs.plugin]
    )
    with app.app_context():
        result = CONTRIBUTOR.check()
    assert result.status == "degraded"
    assert result.message == "job queue tables missing: run `ocore db upgrade`"
