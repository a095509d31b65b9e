"""The health runner's worker threads: a bounded pool of daemon threads."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonPool:
    """A bounded pool of daemon threads.

    ThreadPoolExecutor joins its workers at interpreter exit, so one hung check would keep the
    process from exiting; these workers are daemons and never block shutdown.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._queue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._workers = 0
        self._closed = False

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on a worker; its outcome lands in the returned future."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the health worker pool is closed")
            self._queue.put((future, fn))
            # Same policy as ThreadPoolExecutor: reuse an idle worker, else add one up to the cap.
            if not self._idle.acquire(blocking=False) and self._workers < self._max_workers:
                self._workers += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._workers}", daemon=True
                ).start()
        return future

    def close(self) -> None:
        """Cancel what has not started and let the workers exit (never waits for them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
            for _ in range(self._workers):
                self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn
            if self._closed:
                return
            self._idle.release()
