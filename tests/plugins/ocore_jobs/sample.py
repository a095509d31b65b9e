"""Test-only plugins offering tasks to the job queue. Worker processes load them by path
(``tests.plugins.ocore_jobs.sample:plugin``) next to the first-party plugins.

Every task writes rows into ``jobtest_runs`` through the database plugin's accessor, which works
because a job runs inside the app's context.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import text

import ocore_database
from ocore_flask.plugin import Plugin
from ocore_flask.tasks import Retry, Task
from ocore_flask.testing import JWT_SECRET

DDL = (
    "CREATE TABLE IF NOT EXISTS jobtest_runs (id bigserial PRIMARY KEY, label text NOT NULL, "
    "note text NOT NULL, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
)
LEAK = "hunter2-Leak-Qz8w"
FLAKY_RETRY = Retry(attempts=3, wait=0.4, backoff=2.0)


def note(label: str, what: str) -> int:
    """Record ``what`` happened to ``label``; how many earlier ``what`` rows it had."""
    with ocore_database.engine().begin() as conn:
        earlier = conn.execute(
            text("SELECT count(*) FROM jobtest_runs WHERE label = :l AND note = :n"),
            {"l": label, "n": what},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO jobtest_runs (label, note, pid) VALUES (:l, :n, :p)"),
            {"l": label, "n": what, "p": os.getpid()},
        )
    return earlier


def record(label: str, sleep: float = 0.0) -> dict[str, Any]:
    """A run is a start row, ``sleep`` seconds, an end row."""
    note(label, "start")
    time.sleep(sleep)
    note(label, "end")
    return {"label": label}


def once_slow(label: str, seconds: float) -> None:
    """The first attempt takes ``seconds``; later ones (after a recovery) are quick."""
    first = note(label, "start") == 0
    time.sleep(seconds if first else 0)
    note(label, "end")


def flaky(label: str, failures: int) -> str:
    """Fails its first ``failures`` attempts."""
    attempt = note(label, "start")
    if attempt < failures:
        raise RuntimeError(f"flaky attempt {attempt + 1} of {label} failed")
    note(label, "end")
    return f"succeeded on attempt {attempt + 1}"


def leaky(label: str) -> None:
    """Fails with secrets in its message: the stored reason must not keep them."""
    note(label, "start")
    raise RuntimeError(
        f"login refused: password={LEAK} url=postgresql://app:{LEAK}@db/x "
        f"jwt {JWT_SECRET}\nsecond line"
    )


def tick(timestamp: int) -> None:
    """A periodic task that wants the tick's time."""
    note(f"tick-{timestamp}", "tick")


plugin = Plugin(
    "jobtest",
    "Test tasks for the job queue.",
    requires=("database",),
    hooks={
        "tasks": lambda: [
            Task("record", record),
            Task("once_slow", once_slow),
            Task("flaky", flaky, retry=FLAKY_RETRY),
            Task("leaky", leaky),
            Task("other_queue", record, queue="other"),
        ]
    },
)

ticker = Plugin(
    "jobtick",
    "A periodic test task, every second.",
    requires=("database",),
    hooks={"tasks": lambda: [Task("tick", tick, queue="ticks", schedule="* * * * * */1")]},
)

#: what test workers load: the first-party plugins a job needs, and the test tasks
WORKER_PLUGINS = [
    "ocore_database:plugin",
    "ocore_jobs:plugin",
    "tests.plugins.ocore_jobs.sample:plugin",
]


def runs(engine: Any, label: str, what: str = "start") -> list[Any]:
    """The rows ``label`` got for ``what`` (pid, time), oldest first."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT pid, at FROM jobtest_runs WHERE label = :l AND note = :n ORDER BY id"),
            {"l": label, "n": what},
        ).all()


def app_plugins() -> list[Plugin]:
    """The same plugins as objects, for in-process apps."""
    import ocore_jobs

    return [ocore_database.plugin, ocore_jobs.plugin, plugin]
