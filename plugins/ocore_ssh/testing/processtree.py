"""Process-tree helpers for stopping a daemon together with every connection it forked."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def process_table() -> dict[int, tuple[int, str]]:
    """Map every pid to (ppid, state), read from /proc."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses; state and ppid follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int, table: dict[int, tuple[int, str]]) -> list[int]:
    """Return every process below ``pid`` in the process tree."""
    children: dict[int, list[int]] = {}
    for child, (parent, _state) in table.items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def freeze_tree(pid: int, timeout: float = 5.0) -> list[int]:
    """SIGSTOP ``pid`` and all its descendants until none is left running or forking."""
    frozen: set[int] = set()
    deadline = time.monotonic() + timeout
    to_stop = [pid]
    while time.monotonic() < deadline:
        for target in to_stop:
            try:
                os.kill(target, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            frozen.add(target)
        time.sleep(0.005)
        table = process_table()
        # A process that was forking when stopped shows its child now; stop that one too.
        to_stop = [p for p in descendants(pid, table) if p not in frozen]
        settled = all(table.get(p, (0, "X"))[1] in "TtZX" for p in frozen)
        if not to_stop and settled:
            break
    frozen.discard(pid)
    return sorted(frozen)


def user_processes(user: str, needle: str) -> list[str]:
    """The live processes of ``user`` whose command line contains ``needle`` (e.g. what a
    session left running on the test sshd's account)."""
    out = subprocess.run(
        ["ps", "-u", user, "-o", "stat=,args="], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if needle in line and not line.startswith("Z")]
