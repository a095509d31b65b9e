"""Tests for the health runner, with real threads and real (short) time."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from ocore_flask.health.contributor import CheckResult, HealthContributor, degraded, fail, ok
from ocore_flask.health.runner import (
    EXCEPTION_MESSAGE,
    NO_RESULT_MESSAGE,
    HealthReport,
    HealthRunner,
    rollup,
)

Check = Callable[[], CheckResult | Mapping[str, Any]]


class Counter:
    """Counts calls of a check and the most that ran at once."""

    def __init__(self, check: Check, delay: float = 0.0) -> None:
        self._check = check
        self._delay = delay
        self._lock = threading.Lock()
        self._running = 0
        self.calls = 0
        self.max_running = 0

    def __call__(self) -> CheckResult | Mapping[str, Any]:
        with self._lock:
            self.calls += 1
            self._running += 1
            self.max_running = max(self.max_running, self._running)
        try:
            time.sleep(self._delay)
            return self._check()
        finally:
            with self._lock:
                self._running -= 1


class Gate:
    """A check that blocks until released, to play a hung subsystem."""

    def __init__(self, result: CheckResult | None = None) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.result = result or ok({"late": True})

    def __call__(self) -> CheckResult:
        self.entered.set()
        self.release.wait(10)
        self.finished.set()
        return self.result


@pytest.fixture
def runners() -> Iterator[Callable[..., HealthRunner]]:
    """Build runners that are closed after the test."""
    made: list[HealthRunner] = []

    def make(*contributors: HealthContributor, **kwargs: Any) -> HealthRunner:
        runner = HealthRunner(contributors, **kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


@pytest.fixture
def gates() -> Iterator[Callable[..., Gate]]:
    """Build gates that are always released, so no check outlives its test."""
    made: list[Gate] = []

    def make(result: CheckResult | None = None) -> Gate:
        gate = Gate(result)
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.release.set()


def _timed(runner: HealthRunner) -> tuple[HealthReport, float]:
    started = time.monotonic()
    report = runner.run()
    return report, time.monotonic() - started


# -- timeouts and concurrency --------------------------------------------------------------


def test_hung_contributor_times_out_while_its_thread_keeps_running(runners, gates) -> None:
    gate = gates()
    runner = runners(HealthContributor("hung", gate, timeout=0.2))

    report, elapsed = _timed(runner)

    assert elapsed < 0.2 + 0.5
    section = report.checks["hung"]
    assert section["status"] == "fail"
    assert section["message"] == "timed out after 0.2s"
    assert section["data"] == {}
    assert gate.entered.is_set()
    assert not gate.finished.is_set()  # still running in the background
    gate.release.set()
    assert gate.finished.wait(2)


def test_contributors_run_concurrently(runners) -> None:
    counters = [Counter(lambda: ok(), delay=0.3) for _ in range(5)]
    runner = runners(
        *(HealthContributor(f"slow_{i}", c, timeout=2.0) for i, c in enumerate(counters))
    )

    report, elapsed = _timed(runner)

    assert 0.3 <= elapsed < 1.5
    assert [s["status"] for s in report.checks.values()] == ["ok"] * 5


def test_pool_is_bounded_by_max_workers(runners) -> None:
    counter = Counter(lambda: ok(), delay=0.15)
    runner = runners(
        *(HealthContributor(f"c{i}", counter, timeout=2.0) for i in range(4)), max_workers=2
    )

    report, elapsed = _timed(runner)

    assert report.status == "ok"
    assert counter.max_running == 2
    assert elapsed >= 0.3


def test_check_waiting_for_a_free_worker_times_out_and_is_not_run(runners, gates) -> None:
    gate = gates()
    quick = Counter(lambda: ok())
    runner = runners(
        HealthContributor("hung", gate, timeout=0.3),
        HealthContributor("quick", quick, timeout=0.2),
        max_workers=1,
        cache_ttl=0,
    )

    report, elapsed = _timed(runner)

    assert elapsed < 0.3 + 0.5
    assert report.checks["quick"]["message"] == "timed out after 0.2s waiting for a free worker"
    assert report.checks["hung"]["message"] == "timed out after 0.3s"
    gate.release.set()
    assert gate.finished.wait(2)
    time.sleep(0.05)
    assert quick.calls == 0  # cancelled while queued
    assert runner.run().checks["quick"]["status"] == "ok"
    assert quick.calls == 1


# -- single flight, cache and staleness ------------------------------------------------------


def test_concurrent_runs_start_each_contributor_once_per_cache_window(runners) -> None:
    counters = {name: Counter(lambda: ok({"n": 1}), delay=0.1) for name in ("db", "queue")}
    runner = runners(
        *(HealthContributor(name, c, timeout=2.0) for name, c in counters.items()),
        cache_ttl=0.6,
    )
    barrier = threading.Barrier(50)
    reports: list[HealthReport] = []

    def call() -> None:
        barrier.wait()
        reports.append(runner.run())

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert len(reports) == 50
    assert all(report.status == "ok" for report in reports)
    assert {c.calls for c in counters.values()} == {1}
    assert {report.checks["db"]["observed_at"] for report in reports} == {
        reports[0].checks["db"]["observed_at"]
    }

    cached = runner.run()  # finished, but still inside the window: served from the cache
    assert {c.calls for c in counters.values()} == {1}
    assert cached.checks["db"]["observed_at"] == reports[0].checks["db"]["observed_at"]

    time.sleep(0.65)  # the window has passed: the next run checks again
    runner.run()
    assert {c.calls for c in counters.values()} == {2}


def test_cache_ttl_zero_runs_every_time(runners) -> None:
    counter = Counter(lambda: ok())
    runner = runners(HealthContributor("db", counter), cache_ttl=0)
    runner.run()
    runner.run()
    assert counter.calls == 2


def test_still_running_contributor_is_not_restarted_and_reported_stale(runners, gates) -> None:
    gate = gates(result=ok({"late": True}))
    results = iter([ok({"first": True})])
    calls = Counter(lambda: next(results, None) or gate())
    runner = runners(HealthContributor("db", calls, timeout=0.2, critical=True), cache_ttl=0)

    first = runner.run().checks["db"]
    assert first["status"] == "ok"
    assert "stale" not in first

    timed_out = runner.run()
    assert timed_out.checks["db"]["message"] == "timed out after 0.2s"
    assert "stale" not in timed_out.checks["db"]
    assert timed_out.http_status == 503

    time.sleep(0.1)
    stale, elapsed = _timed(runner)
    assert elapsed < 0.1  # nobody waits for a check already past its timeout
    section = stale.checks["db"]
    assert section["stale"] is True
    assert 0.1 <= section["stale_age_s"] < 1.0
    # The last verdict is the timeout, so a hung critical check keeps failing, not flapping.
    assert section["status"] == "fail"
    assert section["message"] == "timed out after 0.2s"
    assert stale.http_status == 503
    assert calls.calls == 2  # not started again

    gate.release.set()
    assert gate.finished.wait(2)
    time.sleep(0.05)
    # The late result replaced the timeout verdict; with no cache the next run starts afresh.
    assert runner.run().checks["db"]["data"] == {"late": True}
    assert calls.calls == 3


def test_in_flight_past_its_timeout_without_any_result(runners, gates) -> None:
    # Only the test thread's clock jumps ahead: the first caller is still waiting for the check
    # when the second one finds it past its deadline with nothing recorded yet.
    skew = threading.local()

    def clock() -> float:
        return time.monotonic() + getattr(skew, "seconds", 0.0)

    gate = gates()
    runner = runners(HealthContributor("db", gate, timeout=0.4), clock=clock)
    first: list[HealthReport] = []
    waiter = threading.Thread(target=lambda: first.append(runner.run()))
    waiter.start()
    assert gate.entered.wait(2)

    skew.seconds = 100.0
    section = runner.run().checks["db"]

    assert section["status"] == "fail"
    assert section["message"] == NO_RESULT_MESSAGE
    assert "stale" not in section
    waiter.join(2)
    assert first[0].checks["db"]["message"] == "timed out after 0.4s"


def test_returned_reports_cannot_alter_the_cache(runners) -> None:
    runner = runners(HealthContributor("db", lambda: ok({"pool": {"open": 1}})), cache_ttl=10)
    report = runner.run()
    report.checks["db"]["data"]["pool"]["open"] = 99
    report.to_dict()["checks"]["db"]["status"] = "fail"
    assert runner.run().checks["db"]["data"] == {"pool": {"open": 1}}
    assert runner.run().checks["db"]["status"] == "ok"


# -- failures, data and scrubbing -------------------------------------------------------------


def test_exception_becomes_generic_fail_and_traceback_is_logged(runners, caplog) -> None:
    def broken() -> CheckResult:
        raise RuntimeError("cannot reach db with password hunter2-pass")

    runner = runners(HealthContributor("database", broken, critical=True))
    with caplog.at_level(logging.ERROR, logger="ocore_flask.health"):
        report = runner.run()

    section = report.checks["database"]
    assert section["status"] == "fail"
    assert section["message"] == EXCEPTION_MESSAGE
    assert section["data"] == {}
    assert "hunter2" not in json.dumps(report.to_dict())
    [record] = [r for r in caplog.records if r.name == "ocore_flask.health"]
    assert record.levelno == logging.ERROR
    assert "'database'" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


def test_system_exit_in_a_check_does_not_escape(runners) -> None:
    runner = runners(HealthContributor("db", lambda: sys.exit(3)))
    assert runner.run().checks["db"]["message"] == EXCEPTION_MESSAGE


def test_wrong_return_type_is_a_generic_failure(runners, caplog) -> None:
    runner = runners(HealthContributor("db", lambda: None))  # type: ignore[arg-type, return-value]
    with caplog.at_level(logging.ERROR, logger="ocore_flask.health"):
        section = runner.run().checks["db"]
    assert section["message"] == EXCEPTION_MESSAGE
    assert "must return a CheckResult or a mapping" in caplog.text


def test_plain_mapping_means_ok(runners) -> None:
    runner = runners(HealthContributor("db", lambda: {"open": 2, "idle": [1, 2.5, None, True]}))
    section = runner.run().checks["db"]
    assert section["status"] == "ok"
    assert section["data"] == {"open": 2, "idle": [1, 2.5, None, True]}
    assert "message" not in section


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"last_backup": datetime(2024, 1, 1, tzinfo=UTC)}, "datetime at data.last_backup"),
        ({"servers": [{"load": math.nan}]}, "nan at data.servers[0].load"),
        ({"ids": {1, 2}}, "set at data.ids"),
        ({"by_port": {22: "open"}}, "int key at data.by_port"),
        ({"raw": b"\x00"}, "bytes at data.raw"),
    ],
)
def test_non_json_data_fails_the_section(runners, data: dict[str, Any], where: str) -> None:
    runner = runners(HealthContributor("db", lambda: degraded("slow", data=data)))
    section = runner.run().checks["db"]
    assert section["status"] == "fail"
    assert section["message"] == f"returned non-JSON data: {where}"
    assert section["data"] == {}


def test_cyclic_data_fails_instead_of_recursing_forever(runners) -> None:
    data: dict[str, Any] = {}
    data["self"] = data
    runner = runners(HealthContributor("db", lambda: data))
    section = runner.run().checks["db"]
    assert section["message"].startswith("returned non-JSON data: nested deeper than")


def test_tuples_become_lists(runners) -> None:
    runner = runners(HealthContributor("db", lambda: {"pair": (1, "a")}))
    assert runner.run().checks["db"]["data"] == {"pair": [1, "a"]}


def test_secrets_are_scrubbed_from_messages_and_data(runners) -> None:
    def leaky() -> CheckResult:
        return degraded(
            "login failed for s3cr3t-value",
            data={
                "dsn": "postgres://app:pw0rd-x@db/app",
                "servers": [{"last_error": "auth s3cr3t-value rejected"}],
                "api_token": "tok-123456",
                "header": "Authorization: Bearer abc.def",
            },
        )

    runner = runners(HealthContributor("db", leaky), secrets=lambda: ["s3cr3t-value"])
    payload = json.dumps(runner.run().to_dict())
    for leaked in ("s3cr3t-value", "pw0rd-x", "tok-123456", "abc.def"):
        assert leaked not in payload
    assert "postgres://app:***@db/app" in payload


def test_message_is_scrubbed_before_it_is_shortened(runners) -> None:
    secret = "ABCDEFGHIJKLMNOP"
    message = "x" * 190 + secret + " tail"
    runner = runners(HealthContributor("db", lambda: fail(message)), secrets=lambda: [secret])
    section = runner.run().checks["db"]
    assert "ABCD" not in section["message"]
    assert len(section["message"]) <= 200


def test_long_messages_are_shortened(runners) -> None:
    runner = runners(HealthContributor("db", lambda: fail("y" * 500)))
    message = runner.run().checks["db"]["message"]
    assert len(message) == 200
    assert message.endswith("…")


# -- report shape and status rollup -----------------------------------------------------------


def test_section_and_report_shape(runners) -> None:
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    runner = runners(
        HealthContributor("db", lambda: ok({"open": 1}, message="fine"), critical=True),
        HealthContributor("mail", lambda: {}),
        wall_clock=lambda: moment,
    )
    report = runner.run()
    payload = report.to_dict()

    assert list(payload) == ["status", "checked_at", "duration_ms", "checks"]
    assert payload["checked_at"] == "2024-05-01T12:00:00.000Z"
    assert list(payload["checks"]) == ["db", "mail"]
    db = payload["checks"]["db"]
    assert list(db) == ["status", "critical", "duration_ms", "observed_at", "message", "data"]
    assert db["critical"] is True
    assert db["observed_at"] == "2024-05-01T12:00:00.000Z"
    assert isinstance(db["duration_ms"], float)
    assert isinstance(report.duration_ms, float)
    json.dumps(payload, allow_nan=False)


@pytest.mark.parametrize(
    ("sections", "status", "http_status"),
    [
        ([], "ok", 200),
        ([(ok(), True), (ok(), False)], "ok", 200),
        ([(ok(), True), (fail("x"), False)], "degraded", 200),
        ([(degraded("x"), True), (ok(), False)], "degraded", 200),
        ([(fail("x"), True), (ok(), False)], "fail", 503),
        ([(degraded("x"), False), (fail("x"), True)], "fail", 503),
    ],
)
def test_status_rollup(runners, sections, status: str, http_status: int) -> None:
    runner = runners(
        *(
            HealthContributor(f"c{i}", lambda r=result: r, critical=critical)
            for i, (result, critical) in enumerate(sections)
        )
    )
    report = runner.run()
    assert report.status == status
    assert report.http_status == http_status
    assert rollup(report.checks.values()) == status


# -- context, lifecycle and validation ---------------------------------------------------------


def test_context_is_entered_in_the_worker_thread_around_each_check(runners) -> None:
    state = threading.local()
    entered: list[str] = []

    @contextmanager
    def context() -> Iterator[None]:
        entered.append(threading.current_thread().name)
        state.active = True
        try:
            yield
        finally:
            state.active = False

    def check() -> dict[str, Any]:
        return {
            "active": getattr(state, "active", False),
            "thread": threading.current_thread().name,
        }

    runner = runners(HealthContributor("db", check), context=context)
    data = runner.run().checks["db"]["data"]
    assert data["active"] is True
    assert data["thread"] != threading.current_thread().name
    assert entered == [data["thread"]]


def test_secrets_are_read_in_the_context(runners) -> None:
    state = threading.local()

    @contextmanager
    def context() -> Iterator[None]:
        state.secrets = ["from-the-app-config"]
        yield

    runner = runners(
        HealthContributor("db", lambda: fail("from-the-app-config leaked")),
        context=context,
        secrets=lambda: state.secrets,
    )
    assert runner.run().checks["db"]["message"] == "*** leaked"


def test_close_does_not_wait_for_hung_checks(runners, gates) -> None:
    gate = gates()
    runner = runners(HealthContributor("hung", gate, timeout=0.1))
    runner.run()

    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < 0.1
    with pytest.raises(RuntimeError, match="closed"):
        runner.run()


def test_hung_check_does_not_block_interpreter_exit() -> None:
    script = textwrap.dedent(
        """
        import time
        from ocore_flask.health.contributor import HealthContributor
        from ocore_flask.health.runner import HealthRunner

        runner = HealthRunner([HealthContributor("hung", lambda: time.sleep(60), timeout=0.1)])
        print(runner.run().checks["hung"]["message"])
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timed out after 0.1s"
    assert time.monotonic() - started < 10


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate health contributor name 'db'"):
        HealthRunner([HealthContributor("db", dict), HealthContributor("db", dict)])


@pytest.mark.parametrize(
    "kwargs",
    [{"max_workers": 0}, {"max_workers": 1.5}, {"cache_ttl": -1}, {"cache_ttl": math.inf}],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HealthRunner([], **kwargs)


def test_only_contributors_are_accepted() -> None:
    with pytest.raises(TypeError, match="expected a HealthContributor"):
        HealthRunner([lambda: {}])  # type: ignore[list-item]
