"""Job queue (issue 13): deferring through the shared engine, wake-up latency, worker throughput.

- defer: ``jobs().defer(...)`` (argument checks + procrastinate's SQLAlchemy connector on the
  app's shared engine) against a raw ``INSERT`` of the same row through the same engine (same
  pool, same triggers: the NOTIFY and the event row), one thread, interleaved rounds;
- latency: defer-to-start of one job at a time with an idle worker whose polling interval is
  JOBS_POLL_INTERVAL's default (5 s): LISTEN/NOTIFY is what starts it, so p50/p99 should be
  milliseconds; times from procrastinate's own events (the database's clock);
- throughput: jobs/s through one worker (JOBS_CONCURRENCY's default, 4) running no-op tasks
  already queued, from its first start to its last finish.

    python benchmarks/jobs_bench.py [--database-url URL] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from common import BENCH_DIR, Row, app_env, bench_main, percentile, postgres, progress, ratio
from common import scaled as _scaled
from sqlalchemy import Engine, text

import ocore_database
import ocore_jobs
from ocore_flask.plugin import Plugin
from ocore_flask.tasks import Task

BENCH = "jobs"
POLL_DEFAULT_S = 5.0


def noop() -> None:
    """The task whose cost is only the queue's."""


plugin = Plugin(
    "jobs_bench",
    "Benchmark tasks.",
    requires=("database",),
    hooks={"tasks": lambda: [Task("noop", noop, queue="bench"), Task("bulk", noop, queue="bulk")]},
)
WORKER_PLUGINS = ["ocore_database:plugin", "ocore_jobs:plugin", "jobs_bench:plugin"]
RAW_INSERT = text(
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, "
    "args, scheduled_at) VALUES ('bench', 'jobs_bench.noop', 0, NULL, NULL, "
    "CAST('{}' AS jsonb), NULL) RETURNING id"
)


def _env(url: str) -> dict[str, str]:
    return app_env(url, {"PYTHONPATH": str(BENCH_DIR), "LOG_LEVEL": "warning"})


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE procrastinate_jobs CASCADE"))


def defer_rate(app: Any, engine: Engine, args: argparse.Namespace) -> list[Row]:
    """defers/s through jobs().defer vs raw INSERTs of the same row, same engine."""
    count = _scaled(args, 3000, 300)
    rounds = _scaled(args, 3, 1)
    service = ocore_jobs.jobs(app)
    service.defer("jobs_bench.noop")  # builds procrastinate's app: not timed
    best = {"defer": 0.0, "raw": 0.0}
    for _ in range(rounds):
        _clear(engine)
        started = time.perf_counter()
        for _ in range(count):
            service.defer("jobs_bench.noop")
        best["defer"] = max(best["defer"], count / (time.perf_counter() - started))
        _clear(engine)
        started = time.perf_counter()
        for _ in range(count):
            with engine.begin() as conn:
                conn.execute(RAW_INSERT).scalar_one()
        best["raw"] = max(best["raw"], count / (time.perf_counter() - started))
    _clear(engine)
    progress(f"defer: {best['defer']:,.0f}/s, raw INSERT {best['raw']:,.0f}/s")
    what = f"{count:,} defers, one thread, shared engine"
    return [
        Row(BENCH, f"{what}: jobs().defer", round(best["defer"]), "defers/s"),
        Row(BENCH, f"{what}: raw INSERT of the same row", round(best["raw"]), "inserts/s"),
        Row(BENCH, f"{what}: jobs().defer / raw INSERT", ratio(best["defer"], best["raw"]),
            "ratio"),
    ]  # fmt: skip


def _events(engine: Engine, ids: list[int]) -> dict[int, dict[str, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT job_id, type::text, extract(epoch FROM at) FROM procrastinate_events "
                "WHERE job_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        found: dict[int, dict[str, float]] = {}
        for job_id, kind, at in rows:
            found.setdefault(job_id, {})[kind] = float(at)
    return found


def _status(engine: Engine, job_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE id = :i"), {"i": job_id}
        ).scalar()


def latency(app: Any, engine: Engine, url: str, args: argparse.Namespace) -> list[Row]:
    """Defer-to-start with an idle worker polling only every 5 s: NOTIFY wakes it."""
    from ocore_jobs.testing import WorkerProcess

    count = _scaled(args, 300, 40)
    service = ocore_jobs.jobs(app)
    ids = []
    with WorkerProcess(_env(url), plugins=WORKER_PLUGINS, queues=["bench"], concurrency=1):
        for _ in range(count):
            job_id = service.defer("jobs_bench.noop")
            ids.append(job_id)
            deadline = time.monotonic() + 10
            while _status(engine, job_id) != "succeeded":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id} did not run within 10 s")
                time.sleep(0.002)
            time.sleep(0.01)  # the worker is idle again: waiting on LISTEN
    events = _events(engine, ids)
    waits = [(e["started"] - e["deferred"]) * 1000 for e in events.values()]
    _clear(engine)
    p50, p99 = percentile(waits, 50), percentile(waits, 99)
    progress(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(waits)} jobs")
    what = f"defer-to-start, idle worker, polling every {POLL_DEFAULT_S:g} s, {count} jobs"
    return [
        Row(BENCH, f"{what}: p50", round(p50, 2), "ms", "<= 50"),
        Row(BENCH, f"{what}: p99", round(p99, 2), "ms", "<= 250"),
        Row(BENCH, f"{what}: p99 / polling interval", ratio(p99, POLL_DEFAULT_S * 1000),
            "ratio", "<= 0.05"),
    ]  # fmt: skip


def throughput(app: Any, engine: Engine, url: str, args: argparse.Namespace) -> list[Row]:
    """No-op jobs/s through one worker, the queue filled beforehand."""
    from ocore_jobs.testing import WorkerProcess

    count = _scaled(args, 3000, 300)
    service = ocore_jobs.jobs(app)
    ids = [service.defer("jobs_bench.bulk") for _ in range(count)]
    with WorkerProcess(_env(url), plugins=WORKER_PLUGINS, queues=["bulk"]):
        deadline = time.monotonic() + 300
        while _status(engine, ids[-1]) != "succeeded" or _pending(engine):
            if time.monotonic() > deadline:
                raise RuntimeError("the bulk jobs did not finish within 300 s")
            time.sleep(0.05)
    events = _events(engine, ids)
    first = min(e["started"] for e in events.values())
    last = max(e["succeeded"] for e in events.values())
    rate = count / (last - first)
    _clear(engine)
    progress(f"throughput: {rate:,.0f} jobs/s ({count} jobs in {last - first:.2f} s)")
    return [
        Row(BENCH, f"{count:,} no-op jobs through one worker (concurrency 4)", round(rate),
            "jobs/s"),
    ]  # fmt: skip


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
        ).scalar_one()


def run(args: argparse.Namespace) -> list[Row]:
    """Every job queue measurement, on a fresh migrated database."""
    import sys

    from ocore_database.testing import cloned_database, migrate
    from ocore_flask import close_app, create_app

    sys.modules.setdefault("jobs_bench", sys.modules[__name__])  # the worker's import path
    with postgres(getattr(args, "database_url", None)) as server, cloned_database(server) as url:
        migrate(url, [ocore_database.plugin, ocore_jobs.plugin])
        app = create_app(_env(url), [ocore_database.plugin, ocore_jobs.plugin, plugin])
        try:
            engine = ocore_database.engine(app)
            progress("jobs: defer rate")
            rows = defer_rate(app, engine, args)
            progress("jobs: latency")
            rows += latency(app, engine, url, args)
            progress("jobs: throughput")
            rows += throughput(app, engine, url, args)
        finally:
            close_app(app)
    return rows


if __name__ == "__main__":
    bench_main(run, __doc__)
