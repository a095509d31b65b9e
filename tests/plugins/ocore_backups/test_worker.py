"""Backups as jobs, run by real worker processes (``ocore_jobs.testing``): the scheduler's
queueing, ``backups run --wait`` through a worker, two workers never running one policy at
once, and a worker killed mid-run whose run is failed afterwards (its lock died with it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import Engine

import ocore_backups
import ocore_jobs
from ocore_backups.policies import next_run
from ocore_backups.tasks import queue_due, recover_lost
from ocore_backups.testing import (
    WORKER_PLUGINS,
    add_backup_server,
    backups_environ,
    backups_plugins,
    truncate,
)
from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_flask.testing import cli_json, wait_for
from ocore_jobs.testing import WorkerProcess, wait_for_job
from ocore_ssh.testing import Sshd, user_processes


@pytest.fixture(scope="module")
def worker_env(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One environment for the module's workers and apps (the workers outlive a test)."""
    return backups_environ(module_database_url, tmp_path_factory.mktemp("backups"))


@pytest.fixture(scope="module")
def workers(worker_env: dict) -> Iterator[list[WorkerProcess]]:
    """Two worker processes (two jobs at a time each) taking the ``backups`` queue."""
    started = [
        WorkerProcess(worker_env, plugins=WORKER_PLUGINS, queues=["backups"], concurrency=2)
        for _ in range(2)
    ]
    try:
        for worker in started:
            worker.start()
        yield started
    finally:
        for worker in started:
            worker.stop(timeout=15)


@pytest.fixture
def app(
    make_app: Callable[..., Flask],
    worker_env: dict,
    module_engine: Engine,
    sshd: Sshd,
    backup_key: str,
) -> Flask:
    truncate(module_engine)
    built = make_app(worker_env, backups_plugins())
    add_backup_server(built, sshd, backup_key)
    return built


def add(app: Flask, name: str, command: str, schedule: str = "@daily") -> None:
    ocore_backups.backups(app).add_policy(
        name,
        server="db1",
        command=command,
        restore_command="cat > /dev/null",
        schedule=schedule,
        max_age="1h",
        grace="1h",
    )


def test_the_scheduler_queues_due_policies_and_a_worker_runs_them(
    app: Flask, workers: list[WorkerProcess], module_engine: Engine
) -> None:
    # Two and three hours ahead (hours relative to now, so "later" is always due after
    # "nightly"): the workers' own every-minute scheduler will not fire either during the test.
    hour = (datetime.now(UTC) + timedelta(hours=2)).hour
    nightly = f"0 {hour} * * *"
    add(app, "nightly", "echo nightly", schedule=nightly)
    add(app, "later", "echo later", schedule=f"0 {(hour + 1) % 24} * * *")
    service = ocore_backups.backups(app)
    created = service.policies.get("nightly").scheduled_for
    tick = next_run(nightly, created)
    with app.app_context():
        assert queue_due(service, tick - timedelta(seconds=1)) == {
            "queued": [],
            "already_pending": [],
        }
        first = queue_due(service, tick + timedelta(seconds=1))
        again = queue_due(service, tick + timedelta(seconds=2))  # the same tick: nothing new
    [queued] = first["queued"]
    assert queued["policy"] == "nightly" and first["already_pending"] == []
    assert again == {"queued": [], "already_pending": []}
    assert service.policies.get("nightly").scheduled_for == tick

    assert wait_for_job(module_engine, queued["job"], timeout=20) == "succeeded"
    run = service.runs.by_job(queued["job"])
    assert run is not None and run.status == "succeeded" and run.trigger == "schedule"
    assert service.policies.get("nightly").pending_job_id is None  # the lock is released
    assert service.runs.list("later") == []


def test_run_wait_goes_through_a_live_worker(
    app: Flask, workers: list[WorkerProcess], worker_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(app, "manual", "head -c 1000000 /dev/urandom")
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    factory = ScriptInfo(create_app=lambda: create_app(plugins=backups_plugins()))
    result = CliRunner().invoke(
        ocore, ["backups", "run", "manual", "--wait", "--json"], obj=factory
    )
    assert result.exit_code == 0, result.output
    found = cli_json(result)
    assert found["status"] == "succeeded" and found["run"]["size_bytes"] == 1_000_000
    assert found["run"]["job_id"] is not None  # a worker ran it
    with app.app_context():
        job = ocore_jobs.jobs().job(found["run"]["job_id"])
    assert job.task == "backups.run" and job.status == "succeeded"
    assert job.worker_id in {w.worker_id for w in workers}


def test_two_workers_never_run_one_policy_twice(
    app: Flask, workers: list[WorkerProcess], module_engine: Engine
) -> None:
    add(app, "contended", "sleep 1; echo once")
    with app.app_context():
        jobs = ocore_jobs.jobs()
        # four jobs at once, past the queueing lock: only the advisory lock stands between
        ids = [jobs.defer("backups.run", {"policy": "contended"}) for _ in range(4)]
    for job_id in ids:
        assert wait_for_job(module_engine, job_id, timeout=20) == "succeeded"
    runs = sorted(ocore_backups.backups(app).runs.list("contended"), key=lambda r: r.started_at)
    assert runs and all(run.status == "succeeded" for run in runs)
    assert len(runs) < len(ids)  # jobs that found the policy running skipped it
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.finished_at <= later.started_at  # never two at the same time
    with app.app_context():
        workers_used = {ocore_jobs.jobs().job(i).worker_id for i in ids}
    assert len(workers_used) == 2  # both workers took jobs of the policy


def test_a_worker_killed_mid_run_its_job_is_retried_and_the_run_recovered(
    app: Flask,
    workers: list[WorkerProcess],
    module_engine: Engine,
    sshd: Sshd,
    remote_folder,
) -> None:
    """(Last in the module: it kills one of the module's workers.)"""
    flag = remote_folder() / "seen"
    add(
        app,
        "doomed",
        f"if test -e {flag}; then echo second; else touch {flag}; "
        "while :; do echo tick; sleep 0.1; done; fi # doomed-4848",
    )
    service = ocore_backups.backups(app)
    with app.app_context():
        job_id, _ = service.enqueue("doomed")
        assert wait_for(lambda: service.runs.by_job(job_id) is not None, timeout=15)
        first = service.runs.by_job(job_id)
        running_on = ocore_jobs.jobs().job(job_id).worker_id
    [victim] = [w for w in workers if w.worker_id == running_on]
    # the run's row comes before its command: kill only once the command is looping
    assert wait_for(flag.exists, timeout=15)
    victim.kill()

    # the other worker sees the silent one, retries its job; the retry fails the interrupted
    # run (the dead worker's advisory lock died with its connection) and backs up again
    assert wait_for_job(module_engine, job_id, "succeeded", timeout=30) == "succeeded"
    lost = service.runs.get(first.id)
    assert lost.status == "failed" and lost.error.startswith("interrupted")
    again = service.runs.by_job(job_id)
    assert again.id != first.id and again.status == "succeeded"
    folder = Path(service.destination.describe()) / "doomed"
    assert [p.name for p in folder.iterdir()] == [Path(again.path).name]  # no temporary left
    # the looping remote command died of SIGPIPE once its connection was gone
    assert wait_for(lambda: user_processes(sshd.user, "doomed-4848") == [], timeout=10)
    with app.app_context():
        assert recover_lost(service) == []
