"""Worker processes living and dying: a worker SIGKILLed mid-job has the job recovered and
retried by another (heartbeats); SIGTERM lets a running job finish and exits 0; a job outlasting
JOBS_SHUTDOWN_TIMEOUT does not hold the stop up; ``ocore dev``'s hook starts and stops one."""

from __future__ import annotations

import signal
import time

from sqlalchemy import Engine, text

import ocore_database
import ocore_jobs
from ocore_flask.manager import PluginManager
from ocore_flask.testing import wait_for
from ocore_jobs import jobs
from ocore_jobs.dev import dev_services
from ocore_jobs.testing import job_status, wait_for_job
from tests.plugins.ocore_jobs.sample import WORKER_PLUGINS, runs


def started(engine: Engine, label: str) -> bool:
    return bool(runs(engine, label))


def test_a_killed_workers_job_is_retried_then_sigterm_stops_gracefully(
    jobs_env, jobs_app, clean, jobs_worker
):
    victim = jobs_worker(jobs_env, plugins=WORKER_PLUGINS, concurrency=1)
    service = jobs(jobs_app())
    job_id = service.defer("jobtest.once_slow", {"label": "lost", "seconds": 60})
    assert wait_for(lambda: started(clean, "lost"), timeout=10)
    assert victim.kill() == -9  # mid-job: no chance to finish or unregister
    assert job_status(clean, job_id) == "doing"

    rescuer = jobs_worker(jobs_env, plugins=WORKER_PLUGINS, concurrency=2)
    killed_at = time.monotonic()
    assert wait_for_job(clean, job_id, timeout=15) == "succeeded"
    assert time.monotonic() - killed_at < 10  # JOBS_STALL_THRESHOLD is 1.5 s here
    first, second = runs(clean, "lost")
    assert (first.pid, second.pid) == (victim.pid, rescuer.pid)
    job = service.job(job_id)
    assert job.attempts == 2
    assert "stopped sending heartbeats" in job.last_error

    # SIGTERM while a job runs: it finishes, nothing new is taken, the exit status is 0
    running = service.defer("jobtest.record", {"label": "finishing", "sleep": 1.0})
    assert wait_for(lambda: started(clean, "finishing"), timeout=10)
    rescuer.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    late = service.defer("jobtest.record", {"label": "late"})
    assert rescuer.wait(timeout=10) == 0
    rescuer.stop()  # collects the output
    assert job_status(clean, running) == "succeeded" and runs(clean, "finishing", "end")
    assert job_status(clean, late) == "todo"  # taken by no one while stopping
    report = rescuer.report()
    assert report["stopped_by"] == "SIGTERM" and report["recovered"] == [job_id]
    assert report["jobs"] == {"succeeded": 2, "failed": 0}
    with clean.connect() as conn:  # it unregistered; the killed one was pruned
        ids = set(conn.execute(text("SELECT id FROM procrastinate_workers")).scalars())
    assert not {victim.worker_id, rescuer.worker_id} & ids


def test_a_job_outlasting_the_shutdown_timeout_does_not_hold_the_stop(
    jobs_env, jobs_app, clean, jobs_worker
):
    worker = jobs_worker({**jobs_env, "JOBS_SHUTDOWN_TIMEOUT": "1s"}, plugins=WORKER_PLUGINS)
    job_id = jobs(jobs_app()).defer("jobtest.once_slow", {"label": "stuck", "seconds": 60})
    assert wait_for(lambda: started(clean, "stuck"), timeout=10)
    began = time.monotonic()
    assert worker.stop(timeout=15) == 0
    assert time.monotonic() - began < 1 + 2 + 1.5  # the timeout, the margin, slack
    assert "exits with 1 job(s) still running" in worker.output
    assert job_status(clean, job_id) == "doing"  # left for the stalled-job recovery


def test_ocore_dev_starts_one_worker_and_stops_it(jobs_env, clean, tmp_path):
    env = dict(jobs_env)  # the worker runs with every installed plugin, as `ocore dev` does
    manager = PluginManager.of([ocore_database.plugin, ocore_jobs.plugin])

    def workers() -> set[int]:
        with clean.connect() as conn:
            return set(conn.execute(text("SELECT id FROM procrastinate_workers")).scalars())

    before = workers()
    with dev_services(env, tmp_path, manager) as shared:
        assert shared == {}
        assert wait_for(lambda: workers() - before, timeout=20)
    assert workers() <= before  # stopped and unregistered when the block ended
