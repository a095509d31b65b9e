"""Jobs end to end against real PostgreSQL and a real worker process (shared by the module):
deferring from a web request (alone, or inside the request's transaction) and from the CLI,
running, retries with backoff, recorded failures, retry and cancel by hand, listing, two workers
on one queue, a periodic task, retention, health with a live worker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from flask import jsonify, request
from sqlalchemy import Engine, text

import ocore_database
from ocore_flask.testing import JWT_SECRET, rich_health, run, script, wait_for
from ocore_jobs import jobs
from ocore_jobs.testing import WorkerProcess, wait_for_job
from tests.plugins.ocore_jobs.sample import LEAK, WORKER_PLUGINS, runs


@pytest.fixture(scope="module")
def worker(jobs_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """One worker on the "default" queue for the module ("other" has none: jobs stay there)."""
    with WorkerProcess(jobs_env, plugins=WORKER_PLUGINS, queues=["default"], concurrency=2) as w:
        yield w


def errors_of(engine: Engine, job_id: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text("SELECT attempt, reason FROM jobs_errors WHERE job_id = :id ORDER BY id"),
                {"id": job_id},
            )
        ]


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_defer_from_a_web_request_runs_in_the_worker(jobs_app, worker, clean):
    app = jobs_app()

    @app.post("/t/defer")
    def defer_view():
        return jsonify(id=jobs().defer("jobtest.record", {"label": request.json["label"]}))

    db = ocore_database.db(app)
    with app.test_client() as client:
        client.post("/t/defer", json={"label": "warm-up"})  # the first defer builds the app
        before = db.stat()["new_conns_count"]
        job_id = client.post("/t/defer", json={"label": "web"}).json["id"]
    assert db.stat()["new_conns_count"] == before  # deferring used the shared pool
    assert wait_for_job(clean, job_id) == "succeeded"
    (start,) = runs(clean, "web")
    assert start.pid == worker.pid != os.getpid()  # ran in the worker, in an app context
    assert len(runs(clean, "web", "end")) == 1


def test_a_job_commits_and_rolls_back_with_the_callers_transaction(jobs_app, worker, clean):
    app = jobs_app()

    @app.post("/t/signup")
    def signup():
        label = request.json["label"]
        with ocore_database.engine().begin() as conn:
            conn.execute(
                text("INSERT INTO jobtest_runs (label, note, pid) VALUES (:l, 'row', 0)"),
                {"l": label},
            )
            job_id = jobs().defer("jobtest.record", {"label": label}, connection=conn)
            if request.json.get("fail"):
                raise RuntimeError("the request failed after deferring")
        return jsonify(id=job_id)

    client = app.test_client()
    job_id = client.post("/t/signup", json={"label": "tx-ok"}).json["id"]
    assert wait_for_job(clean, job_id) == "succeeded"
    assert len(runs(clean, "tx-ok", "row")) == 1 and len(runs(clean, "tx-ok")) == 1

    assert client.post("/t/signup", json={"label": "tx-fail", "fail": True}).status_code == 500
    with clean.connect() as conn:
        jobs_for = conn.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'label' = 'tx-fail'")
        ).scalar_one()
    assert jobs_for == 0 and runs(clean, "tx-fail", "row") == []


def test_defer_from_the_cli_then_show_it(jobs_env, worker, clean, cli):
    result = run(
        [
            script("ocore"),
            "jobs",
            "defer",
            "jobs.purge_succeeded",
            "--json-args",
            '{"older_than": "1h"}',
            "--json",
        ],
        jobs_env,
    )
    assert result.returncode == 0, result.stderr
    deferred = json.loads(result.stdout)
    assert deferred["task"] == "jobs.purge_succeeded" and deferred["status"] == "todo"
    assert wait_for_job(clean, deferred["id"]) == "succeeded"
    shown = cli("jobs", "show", str(deferred["id"]), "--json")
    assert shown.exit_code == 0, shown.output
    job = json.loads(shown.stdout)
    assert job["status"] == "succeeded" and job["args"] == {"older_than": "1h"}
    assert job["attempts"] == 1 and job["last_error"] is None
    assert job["deferred_at"] <= job["started_at"] <= job["finished_at"]
    text_view = cli("jobs", "show", str(deferred["id"]))
    assert f"Job {deferred['id']}: jobs.purge_succeeded on queue default: succeeded" in (
        text_view.stdout
    )


def test_bad_input_is_one_line_and_exit_1(cli, clean):
    one_line_error(cli("jobs", "defer", "jobtest.recrod"), "no task named", "jobtest.record")
    one_line_error(cli("jobs", "defer", "jobtest.record", "--json-args", "{label"), "not JSON")
    one_line_error(cli("jobs", "defer", "jobtest.record", "--json-args", "[1]"), "JSON object")
    one_line_error(
        cli("jobs", "defer", "jobtest.record", "--json-args", '{"labl": "x"}'),
        "does not take these arguments",
        "jobtest.record(label: 'str', sleep: 'float' = 0.0)",
    )
    secret = cli("jobs", "defer", "jobtest.record", "--json-args", '{"label": "password=x1y2z3"}')
    assert "x1y2z3" not in one_line_error(secret, "contain a secret")
    one_line_error(cli("jobs", "show", "987654"), "no job with id 987654")
    assert cli("jobs", "list", "--status", "finished").exit_code == 2  # click: not a status
    with clean.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar_one() == 0


def test_retries_wait_with_backoff_and_record_each_failure(jobs_app, worker, clean):
    job_id = jobs(jobs_app()).defer("jobtest.flaky", {"label": "flaky", "failures": 2})
    assert wait_for_job(clean, job_id) == "succeeded"
    first, second, third = (row.at for row in runs(clean, "flaky"))
    # Retry(attempts=3, wait=0.4, backoff=2): 0.4 s, then 0.8 s
    assert 0.35 <= (second - first).total_seconds() < 2.0
    assert 0.75 <= (third - second).total_seconds() < 2.5
    assert errors_of(clean, job_id) == [
        (1, "RuntimeError: flaky attempt 1 of flaky failed"),
        (2, "RuntimeError: flaky attempt 2 of flaky failed"),
    ]
    assert jobs(jobs_app()).job(job_id).attempts == 3


def test_a_failure_is_stored_scrubbed_and_retried_by_hand(cli, worker, clean, jobs_app):
    job_id = jobs(jobs_app()).defer("jobtest.leaky", {"label": "leaky"})
    assert wait_for_job(clean, job_id) == "failed"
    job = json.loads(cli("jobs", "show", str(job_id), "--json").stdout)
    reason = job["last_error"]
    assert reason.startswith("RuntimeError: login refused: password=***")
    assert "\n" not in reason and LEAK not in reason and JWT_SECRET not in reason
    assert "second line" in reason  # folded onto the one line

    retried = cli("jobs", "retry", str(job_id), "--json")
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout)["status"] in ("todo", "doing", "failed")
    assert wait_for_job(clean, job_id) == "failed"
    assert [attempt for attempt, _ in errors_of(clean, job_id)] == [1, 2]
    assert len(runs(clean, "leaky")) == 2

    done = jobs(jobs_app()).defer("jobtest.record", {"label": "fine"})
    wait_for_job(clean, done)
    one_line_error(cli("jobs", "retry", str(done)), f"job {done} is succeeded", "only a failed")


def test_cancel_a_waiting_job(cli, jobs_app, clean):
    job_id = jobs(jobs_app()).defer("jobtest.other_queue", {"label": "parked"})  # no worker
    cancelled = cli("jobs", "cancel", str(job_id), "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    one_line_error(cli("jobs", "cancel", str(job_id)), "is cancelled", "only a waiting job")
    listed = json.loads(cli("jobs", "list", "--status", "cancelled", "--json").stdout)
    assert [job["id"] for job in listed] == [job_id]
    assert runs(clean, "parked") == []


def test_list_and_status(cli, jobs_app, worker, clean):
    service = jobs(jobs_app())
    done = service.defer("jobtest.record", {"label": "l1"})
    wait_for_job(clean, done)
    parked = [service.defer("jobtest.other_queue", {"label": f"p{i}"}) for i in range(3)]
    newest = json.loads(cli("jobs", "list", "--limit", "2", "--json").stdout)
    assert [job["id"] for job in newest] == [parked[2], parked[1]]
    other = json.loads(cli("jobs", "list", "--queue", "other", "--json").stdout)
    assert {job["id"] for job in other} == set(parked)
    table_view = cli("jobs", "list").stdout.splitlines()
    assert table_view[0].split() == ["ID", "TASK", "QUEUE", "STATUS", "ATTEMPTS", "DEFERRED"] + [
        "LAST",
        "ERROR",
    ]

    status = json.loads(cli("jobs", "status", "--json").stdout)
    assert status["workers_alive"] >= 1
    assert status["queues"]["other"]["counts"]["todo"] == 3
    assert status["queues"]["other"]["oldest_waiting_s"] >= 0
    assert status["queues"]["default"]["counts"]["succeeded"] >= 1
    tasks = {task["name"]: task for task in status["tasks"]}
    assert tasks["jobs.purge_succeeded"]["schedule"] == "17 * * * *"
    assert tasks["jobtest.flaky"]["retry"] == {"attempts": 3, "wait": 0.4, "backoff": 2.0}
    assert "Workers alive:" in cli("jobs", "status").stdout


def test_two_workers_never_run_the_same_job_and_a_periodic_task_ticks(
    jobs_env, jobs_app, worker, clean, jobs_worker
):
    second = jobs_worker(
        jobs_env,
        plugins=[*WORKER_PLUGINS, "tests.plugins.ocore_jobs.sample:ticker"],
        queues=["default", "ticks"],
        concurrency=2,
    )
    service = jobs(jobs_app())
    ids = [service.defer("jobtest.record", {"label": f"r{i}", "sleep": 0.05}) for i in range(30)]
    for job_id in ids:
        assert wait_for_job(clean, job_id) == "succeeded"
    pids = []
    for i in range(30):
        (start,) = runs(clean, f"r{i}")  # exactly one run per job
        pids.append(start.pid)
    assert set(pids) == {worker.pid, second.pid}

    def ticks() -> list:
        with clean.connect() as conn:
            return conn.execute(
                text("SELECT label, count(*) FROM jobtest_runs WHERE note = 'tick' GROUP BY 1")
            ).all()

    assert wait_for(lambda: len(ticks()) >= 3, timeout=6)
    found = ticks()
    assert all(count == 1 for _, count in found)
    stamps = sorted(int(label.removeprefix("tick-")) for label, _ in found)
    assert stamps == list(range(stamps[0], stamps[0] + len(stamps)))  # every second, once


def test_retention_deletes_old_succeeded_jobs_only(jobs_app, worker, clean):
    service = jobs(jobs_app())
    old = [service.defer("jobtest.record", {"label": f"old{i}"}) for i in range(3)]
    failed = service.defer("jobtest.leaky", {"label": "kept"})
    for job_id in [*old, failed]:
        wait_for_job(clean, job_id)
    with clean.begin() as conn:  # finished two hours ago
        conn.execute(
            text(
                "UPDATE procrastinate_events SET at = at - interval '2 hours' "
                "WHERE job_id = ANY(:ids)"
            ),
            {"ids": [*old, failed]},
        )
    recent = service.defer("jobtest.record", {"label": "recent"})
    wait_for_job(clean, recent)
    purge = service.defer("jobs.purge_succeeded", {"older_than": "1h"})
    assert wait_for_job(clean, purge) == "succeeded"
    with clean.connect() as conn:
        left = set(conn.execute(text("SELECT id FROM procrastinate_jobs")).scalars())
    assert not left & set(old)
    assert {failed, recent, purge} <= left


def test_health_with_a_live_worker(jobs_app, worker, clean):
    app = jobs_app()
    wait_for_job(clean, jobs(app).defer("jobtest.record", {"label": "h"}))
    status, payload = rich_health(app)
    section = payload["checks"]["job_queue"]
    assert status == 200 and section["status"] == "ok" and section["critical"] is False
    assert section["data"]["workers_alive"] >= 1
    assert section["data"]["counts"]["succeeded"] == 1
