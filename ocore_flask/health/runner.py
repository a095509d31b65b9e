"""Run health contributors concurrently, each under its timeout, single-flight and cached."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import CancelledError, Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from ocore_flask.health.contributor import (
    MAX_MESSAGE_LENGTH,
    CheckResult,
    HealthContributor,
    Status,
    as_result,
    isoformat_utc,
)
from ocore_flask.health.threads import DaemonPool
from ocore_flask.redact import Scrubber

logger = logging.getLogger("ocore_flask.health")

EXCEPTION_MESSAGE = "check raised an exception; see the server log"
NO_RESULT_MESSAGE = "still running, no result yet"
CLOSED_MESSAGE = "not run: the health runner is closed"
NON_JSON_MESSAGE = "returned non-JSON data"

# Deeper data is almost certainly a cycle or a mistake, not a health section.
MAX_DATA_DEPTH = 32

Section = dict[str, Any]
T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_secrets() -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class HealthReport:
    """The outcome of one run: overall status, the sections by name, and timing."""

    status: Status
    checks: dict[str, Section]
    duration_ms: float
    checked_at: str

    @property
    def http_status(self) -> int:
        """503 when the overall status is ``fail`` so load balancers and monitors notice."""
        return 503 if self.status == "fail" else 200

    def to_dict(self) -> dict[str, Any]:
        """Return the payload fields this runner owns, as fresh JSON-able objects."""
        return {
            "status": self.status,
            "checked_at": self.checked_at,
            "duration_ms": self.duration_ms,
            "checks": _copy_json(self.checks),
        }


def rollup(sections: Iterable[Mapping[str, Any]]) -> Status:
    """Overall status: fail on a failed critical section, degraded on any other trouble."""
    overall: Status = "ok"
    for section in sections:
        if section["status"] == "fail" and section["critical"]:
            return "fail"
        if section["status"] != "ok":
            overall = "degraded"
    return overall


@dataclass(frozen=True)
class _Verdict:
    section: Section
    at: float  # runner clock when recorded
    run: int  # the run it belongs to, so a late result replaces its own timeout only


@dataclass(eq=False)
class _Slot:
    """Per-contributor state, guarded by the runner's lock."""

    contributor: HealthContributor
    runs: int = 0
    future: Future[Section] | None = None  # the run in flight, if any
    started: float = 0.0
    deadline: float = 0.0
    last: _Verdict | None = None


class HealthRunner:
    """Runs contributors concurrently with per-check timeouts, single flight and a short cache."""

    def __init__(
        self,
        contributors: Iterable[HealthContributor],
        *,
        max_workers: int = 8,
        cache_ttl: float = 1.0,
        secrets: Callable[[], Iterable[str]] = _no_secrets,
        context: Callable[[], AbstractContextManager[Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        slots: list[_Slot] = []
        seen: set[str] = set()
        for contributor in contributors:
            if not isinstance(contributor, HealthContributor):
                raise TypeError(f"expected a HealthContributor, got {type(contributor).__name__}")
            if contributor.name in seen:
                raise ValueError(f"duplicate health contributor name {contributor.name!r}")
            seen.add(contributor.name)
            slots.append(_Slot(contributor))
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive integer, not {max_workers!r}")
        if not isinstance(cache_ttl, int | float) or not math.isfinite(cache_ttl) or cache_ttl < 0:
            raise ValueError(f"cache_ttl must be a non-negative number of seconds, not {cache_ttl}")
        self._slots = tuple(slots)
        self._cache_ttl = float(cache_ttl)
        self._secrets = secrets
        self._context = context
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._closed = False
        self._pool = DaemonPool(max_workers, "ocore-health")
        # Idle workers hold only the pool, so a forgotten runner still releases its threads.
        weakref.finalize(self, self._pool.close)

    @property
    def contributors(self) -> tuple[HealthContributor, ...]:
        """The contributors in report order."""
        return tuple(slot.contributor for slot in self._slots)

    def run(self) -> HealthReport:
        """Run (or reuse) every check and return the report; waits at most the longest timeout."""
        started = self._clock()
        checked_at = isoformat_utc(self._wall_clock())
        sections: dict[str, Section] = {}
        waits: list[tuple[_Slot, int, Future[Section], float]] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("the health runner is closed")
            now = self._clock()
            for slot in self._slots:
                name = slot.contributor.name
                if slot.future is not None:
                    if now < slot.deadline:
                        waits.append((slot, slot.runs, slot.future, slot.deadline))
                    else:
                        sections[name] = self._stale(slot, now)
                elif slot.last is not None and now - slot.last.at < self._cache_ttl:
                    sections[name] = slot.last.section
                else:
                    waits.append(self._start(slot, now))
        # Deadlines are absolute, so waiting on each in turn still runs them all concurrently.
        for slot, run, future, deadline in waits:
            sections[slot.contributor.name] = self._await(slot, run, future, deadline)
        checks = {
            slot.contributor.name: _copy_json(sections[slot.contributor.name])
            for slot in self._slots
        }
        return HealthReport(
            status=rollup(checks.values()),
            checks=checks,
            duration_ms=_ms(self._clock() - started),
            checked_at=checked_at,
        )

    def close(self) -> None:
        """Stop accepting runs and release idle workers, without waiting for hung checks."""
        with self._lock:
            self._closed = True
        self._pool.close()

    def __enter__(self) -> HealthRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scheduling (callers hold self._lock) -------------------------------------------------

    def _start(self, slot: _Slot, now: float) -> tuple[_Slot, int, Future[Section], float]:
        slot.runs += 1
        run = slot.runs
        slot.future = self._pool.submit(lambda: self._execute(slot, run))
        slot.started = now
        slot.deadline = now + slot.contributor.timeout
        return slot, run, slot.future, slot.deadline

    def _stale(self, slot: _Slot, now: float) -> Section:
        if slot.last is None:
            return self._section(slot.contributor, "fail", NO_RESULT_MESSAGE, now - slot.started)
        return {**slot.last.section, "stale": True, "stale_age_s": round(now - slot.last.at, 3)}

    def _record(self, slot: _Slot, run: int, section: Section) -> None:
        if slot.last is None or slot.last.run <= run:
            slot.last = _Verdict(section, self._clock(), run)

    # -- waiting ------------------------------------------------------------------------------

    def _await(self, slot: _Slot, run: int, future: Future[Section], deadline: float) -> Section:
        try:
            return future.result(timeout=max(0.0, deadline - self._clock()))
        except TimeoutError:
            return self._timed_out(slot, run, future)
        except CancelledError:
            return self._cancelled(slot, run)
        except Exception:
            logger.exception("health check %r could not be reported", slot.contributor.name)
            return self._section(slot.contributor, "fail", EXCEPTION_MESSAGE, 0.0)

    def _timed_out(self, slot: _Slot, run: int, future: Future[Section]) -> Section:
        contributor = slot.contributor
        with self._lock:
            if slot.last is not None and slot.last.run == run:
                return slot.last.section  # finished just now, or another caller timed it out
            if not future.done():
                # cancel() succeeds only if the check never started: every worker was busy.
                queued = future.cancel()
                if queued and slot.runs == run:
                    slot.future = None
                message = f"timed out after {contributor.timeout}s"
                if queued:
                    message += " waiting for a free worker"
                section = self._section(contributor, "fail", message, contributor.timeout)
                self._record(slot, run, section)
                return section
        return self._await(slot, run, future, deadline=0.0)  # completed or cancelled meanwhile

    def _cancelled(self, slot: _Slot, run: int) -> Section:
        with self._lock:
            if slot.last is not None and slot.last.run == run:
                return slot.last.section  # cancelled by a caller that timed it out
        return self._section(slot.contributor, "fail", CLOSED_MESSAGE, 0.0)

    # -- executing (in a worker thread) -------------------------------------------------------

    def _execute(self, slot: _Slot, run: int) -> Section:
        contributor = slot.contributor
        section: Section | None = None
        try:
            started = self._clock()
            try:
                with self._context() if self._context is not None else nullcontext():
                    result = as_result(contributor.check())
                    secrets = tuple(self._secrets())
            except BaseException:  # even SystemExit from a check must not reach a request
                logger.exception("health check %r raised an exception", contributor.name)
                result, secrets = CheckResult("fail", EXCEPTION_MESSAGE), ()
            duration = self._clock() - started
            section = self._result_section(contributor, result, secrets, duration)
            return section
        finally:
            # Always leave flight, or the contributor would be reported stale forever.
            with self._lock:
                if slot.runs == run:
                    slot.future = None
                if section is not None:
                    self._record(slot, run, section)

    def _result_section(
        self,
        contributor: HealthContributor,
        result: CheckResult,
        secrets: Iterable[str],
        duration_s: float,
    ) -> Section:
        status, message = result.status, result.message
        try:
            data = _json_safe(result.data, "data", 0)
        except _NotJSON as exc:
            logger.warning(
                "health check %r returned non-JSON data: %s", contributor.name, exc.where
            )
            status, message, data = "fail", f"{NON_JSON_MESSAGE}: {exc.where}", {}
        scrubber = Scrubber(secrets)
        # Scrub before shortening, so a cut can never leave half a secret unrecognised.
        if message:
            message = _shorten(scrubber.text(message))
        return self._section(contributor, status, message, duration_s, scrubber.scrub(data))

    def _section(
        self,
        contributor: HealthContributor,
        status: Status,
        message: str | None,
        duration_s: float,
        data: dict[str, Any] | None = None,
    ) -> Section:
        section: Section = {
            "status": status,
            "critical": contributor.critical,
            "duration_ms": _ms(duration_s),
            "observed_at": isoformat_utc(self._wall_clock()),
        }
        if message:
            section["message"] = message
        section["data"] = {} if data is None else data
        return section


class _NotJSON(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _json_safe(value: Any, path: str, depth: int) -> Any:
    """Copy ``value`` as plain JSON types, or raise _NotJSON naming the first offending value."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJSON(f"{value} at {path}")
        return value
    if depth >= MAX_DATA_DEPTH:
        raise _NotJSON(f"nested deeper than {MAX_DATA_DEPTH} levels at {path}")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJSON(f"{type(key).__name__} key at {path}")
            out[key] = _json_safe(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_safe(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise _NotJSON(f"{type(value).__name__} at {path}")


def _copy_json(value: Any) -> Any:
    """Copy plain JSON containers, so callers can never alter cached sections."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 1] + "…"


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000, 1)
