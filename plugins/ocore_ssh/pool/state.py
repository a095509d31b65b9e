"""The pool's per-server bookkeeping: a Slot per pooled connection, a ServerState per server."""

from __future__ import annotations

import threading
import time

from .runner import PooledConnection
from .targets import SSHTarget


class Slot:
    """One pooled connection and its bookkeeping."""

    __slots__ = ("conn", "generation", "host_key_line", "last_used")

    def __init__(self, conn: PooledConnection, generation: int, host_key_line: str) -> None:
        self.conn = conn
        self.generation = generation
        self.host_key_line = host_key_line
        self.last_used = time.monotonic()


class ServerState:
    """Per-server state; guarded by the pool lock (``cond`` shares it)."""

    def __init__(self, target: SSHTarget, lock: threading.Lock) -> None:
        self.target = target
        self.generation = 0
        self.idle: list[Slot] = []
        self.busy: set[Slot] = set()
        self.opening = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.learned_pin: str | None = None
        self.cond = threading.Condition(lock)

    @property
    def open_count(self) -> int:
        return len(self.idle) + len(self.busy) + self.opening
