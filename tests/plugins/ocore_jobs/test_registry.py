"""Tasks offered by plugins: namespaced, checked once at startup (every problem in one error,
naming the task or both owners), arguments checked when deferring, retries with backoff."""

from __future__ import annotations

import math

import pytest

import ocore_database
import ocore_jobs
from ocore_flask import create_app
from ocore_flask.errors import PluginError
from ocore_flask.manager import PluginManager
from ocore_flask.plugin import Plugin
from ocore_flask.redact import Scrubber
from ocore_flask.tasks import Retry, Task
from ocore_flask.testing import JWT_SECRET
from ocore_jobs.errors import BadArguments, TaskProblems, UnknownTask
from ocore_jobs.registry import collect
from ocore_jobs.runtime import BackoffRetry


def noop() -> None:
    """Does nothing."""


def takes(label: str, count: int = 1) -> None:
    """Takes arguments."""


def offering(name: str, *tasks: Task) -> Plugin:
    return Plugin(name, requires=("database",), hooks={"tasks": lambda: list(tasks)})


def registry_of(*plugins: Plugin):
    return collect(PluginManager.of([ocore_database.plugin, ocore_jobs.plugin, *plugins]))


def problems_of(*plugins: Plugin) -> str:
    with pytest.raises(TaskProblems) as caught:
        registry_of(*plugins)
    return str(caught.value)


def test_tasks_are_namespaced_by_their_plugin():
    registry = registry_of(offering("backups", Task("run", takes, queue="slow")))
    assert set(registry) == {"backups.run", "jobs.purge_succeeded"}
    spec = registry["backups.run"]
    assert (spec.owner, spec.queue, spec.schedule) == ("backups", "slow", None)
    with pytest.raises(
        UnknownTask, match=r"no task named 'backups\.rn'; did you mean 'backups\.run'"
    ):
        registry.get_task("backups.rn")


def test_a_name_two_plugins_use_names_both_owners():
    found = problems_of(
        offering("alpha", Task("cleanup", noop)), offering("beta", Task("cleanup", noop))
    )
    assert "task 'cleanup' is declared by both alpha and beta" in found


def test_every_problem_is_reported_naming_the_task():
    found = problems_of(
        offering(
            "bad",
            Task("nightly", noop, schedule="61 * * * *"),
            Task("Upper", noop),
            Task("q", noop, queue="Has Space"),
            Task("r", noop, retry=Retry(attempts=-1, wait=math.nan, backoff=0.5)),
            Task("needs", takes, schedule="*/5 * * * *"),
        )
    )
    assert "task bad.nightly: schedule '61 * * * *' is not a cron expression" in found
    assert "task bad.Upper: the name must be a lowercase identifier" in found
    assert "task bad.q: queue 'Has Space' is not a queue name" in found
    assert "task bad.r: retry attempts must be from 0 to 100" in found
    assert "retry wait must be a number of seconds >= 0" in found
    assert "retry backoff must be a number >= 1" in found
    assert "task bad.needs: a periodic task is called without arguments" in found
    assert "needs label" in found


def test_a_hook_returning_something_else_or_failing_is_reported():
    assert "tasks() must return ocore_flask.tasks.Task items, not str" in problems_of(
        offering("odd", "not a task")  # type: ignore[arg-type]
    )

    def broken() -> list[Task]:
        raise RuntimeError("import went wrong")

    failing = Plugin("broken", requires=("database",), hooks={"tasks": broken})
    assert "tasks() failed: RuntimeError: import went wrong" in problems_of(failing)


def test_a_bad_schedule_stops_startup_naming_the_task(jobs_env):
    bad = offering("nightly", Task("report", noop, schedule="every day"))
    with pytest.raises(PluginError) as caught:
        create_app(jobs_env, [ocore_database.plugin, ocore_jobs.plugin, bad])
    assert caught.value.exit_code == 78
    message = str(caught.value)
    assert message.startswith("ocore: plugin jobs: tasks cannot be registered")
    assert "task nightly.report: schedule 'every day' is not a cron expression" in message


def test_arguments_are_checked_when_deferring():
    spec = registry_of(offering("p", Task("t", takes)))["p.t"]
    assert spec.check_args({"label": "x"}, Scrubber()) == {"label": "x"}
    with pytest.raises(BadArguments, match="must be a JSON object"):
        spec.check_args(["x"], Scrubber())  # type: ignore[arg-type]
    with pytest.raises(BadArguments, match="are not JSON"):
        spec.check_args({"label": {1, 2}}, Scrubber())
    with pytest.raises(BadArguments, match="are not JSON"):
        spec.check_args({"label": math.nan}, Scrubber())
    with pytest.raises(BadArguments, match="missing a required argument: 'label'"):
        spec.check_args({"count": 2}, Scrubber())
    for leaky in ({"label": "x", "password": "p"}, {"label": f"jwt {JWT_SECRET}"}):
        with pytest.raises(BadArguments, match="contain a secret") as caught:
            spec.check_args(leaky, Scrubber([JWT_SECRET]))
        assert JWT_SECRET not in str(caught.value)


def test_a_periodic_tasks_timestamp_reaches_it_only_when_asked_for():
    def wants(timestamp: int) -> None:
        """Takes the tick."""

    registry = registry_of(
        offering(
            "p",
            Task("plain", noop, schedule="* * * * *"),
            Task("wants", wants, schedule="0 * * * *"),
        )
    )
    assert registry["p.plain"].call_kwargs({"timestamp": 1}) == {}
    assert registry["p.wants"].call_kwargs({"timestamp": 1}) == {"timestamp": 1}


def test_backoff_multiplies_the_wait_per_attempt():
    class Job:
        def __init__(self, attempts: int) -> None:
            self.attempts = attempts

    policy = BackoffRetry(Retry(attempts=3, wait=0.5, backoff=3.0))
    delays = [policy.delay(n) for n in range(3)]
    assert delays == [0.5, 1.5, 4.5]
    assert policy.get_retry_decision(exception=ValueError(), job=Job(2)) is not None
    assert policy.get_retry_decision(exception=ValueError(), job=Job(3)) is None
