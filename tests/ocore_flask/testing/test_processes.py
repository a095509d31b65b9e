"""The kit's process helpers: one free-port finder, one bounded wait, one server process with
one stop policy (the signal once, a bounded wait, then SIGKILL for the whole process group)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from ocore_flask.testing import ServerError, ServerProcess, free_port, http_status, wait_for

# A tiny HTTP server: answers 501 to everything (any answer means ready), prints a line, and on
# SIGTERM either exits 0 or ignores it; with "child" it first forks a sleeping child.
SERVER = """
import http.server, os, signal, sys, time
port, on_term = int(sys.argv[1]), sys.argv[2]
if "child" in sys.argv[3:] and os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
    os._exit(0)
handler = signal.SIG_IGN if on_term == "ignore" else (lambda *_: sys.exit(0))
signal.signal(signal.SIGTERM, handler)
print("listening on", port, flush=True)
http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler).serve_forever()
"""


def server(on_term: str, *extra: str) -> ServerProcess:
    port = free_port()
    return ServerProcess([sys.executable, "-c", SERVER, str(port), on_term, *extra], {}, port)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_free_port_is_bindable_on_loopback():
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_wait_for_is_bounded():
    assert wait_for(lambda: True, timeout=0)
    started = time.monotonic()
    assert not wait_for(lambda: False, timeout=0.2, interval=0.01)
    assert time.monotonic() - started < 2


def test_start_waits_for_an_answer_and_stop_sends_one_sigterm():
    with server("exit") as running:
        assert running.url == f"http://127.0.0.1:{running.port}"
        assert http_status("127.0.0.1", running.port, "/api/health") == 501
        assert running.stop() == 0
    assert f"listening on {running.port}" in running.output
    assert running.stop() == 0  # stopping again only reports the status


def test_a_server_ignoring_the_signal_is_killed_with_its_process_group():
    running = server("ignore", "child").start()
    child = wait_for(lambda: len(_children(running.proc.pid)) == 1, timeout=5)
    assert child, "the server did not fork its child"
    (child_pid,) = _children(running.proc.pid)
    started = time.monotonic()
    assert running.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert wait_for(lambda: not alive(child_pid), timeout=5), "the group was not killed"


def test_a_server_that_exits_during_start_fails_with_its_output():
    port = free_port()
    argv = [sys.executable, "-c", "print('no config here'); raise SystemExit(78)"]
    with pytest.raises(ServerError, match=r"(?s)exited with 78.*no config here"):
        ServerProcess(argv, {}, port, name="broken").start(timeout=10)


def test_a_server_that_never_answers_fails_after_the_timeout():
    port = free_port()
    argv = [sys.executable, "-c", "import time; print('thinking', flush=True); time.sleep(60)"]
    process = ServerProcess(argv, {}, port, name="mute")
    with pytest.raises(ServerError, match=r"(?s)mute was not ready within 1s.*thinking"):
        process.start(timeout=1)
    assert process.proc is not None and process.proc.poll() is not None


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found
