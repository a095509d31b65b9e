"""What a plugin offers the job queue through its ``tasks()`` hook (the queue plugin runs them).

The host only declares the shape, so that plugins can offer tasks before a queue is installed
and the queue plugin can check every offer (namespacing, duplicates, schedules) in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Retry:
    """How a failed run is retried: at most ``attempts`` more times, waiting ``wait`` seconds
    times ``backoff`` to the power of the attempt number."""

    attempts: int = 0
    wait: float = 0.0
    backoff: float = 2.0


@dataclass(frozen=True)
class Task:
    """One background task: ``name`` (namespaced ``plugin.name`` by the queue), the callable,
    its queue, its retry policy and an optional cron schedule (periodic task)."""

    name: str
    func: Callable[..., Any]
    queue: str = "default"
    retry: Retry = Retry()
    schedule: str | None = None
