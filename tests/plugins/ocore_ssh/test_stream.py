"""SSHPool.stream against a real sshd: bytes out to a file object, bytes in from one, exit
status and stderr tail, the timeout and a failing sink both killing the remote command."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocore_flask.testing import wait_for
from ocore_ssh.pool import CommandTimeout, PasswordAuth, SSHPool, SSHTarget
from ocore_ssh.testing import Sshd, user_processes


def target(server: Sshd, name: str = "streamer") -> SSHTarget:
    return SSHTarget(
        name=name,
        host=server.host,
        port=server.port,
        username=server.user,
        auth=PasswordAuth(server.password),
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[SSHPool]:
    with SSHPool() as pool:
        yield pool


@pytest.fixture(scope="module")
def payload() -> Iterator[Path]:
    """5 MB of random bytes the sshd test user can read (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="ocore-stream-"))
    folder.chmod(0o755)
    path = folder / "payload.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    path.chmod(0o644)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def test_stdout_streams_binary_bytes_exactly(sshd: Sshd, pool: SSHPool, payload: Path) -> None:
    sink = io.BytesIO()
    seen: list[int] = []
    result = pool.stream(target(sshd), f"cat {payload}", stdout=sink, on_progress=seen.append)
    assert result.ok and result.exit_status == 0
    assert sink.getvalue() == payload.read_bytes()
    assert result.bytes_out == payload.stat().st_size
    assert seen and seen[-1] == result.bytes_out


def test_stdin_streams_a_file_into_the_command(sshd: Sshd, pool: SSHPool, payload: Path) -> None:
    seen: list[int] = []
    with payload.open("rb") as source:
        result = pool.stream(target(sshd), "sha256sum", stdin=source, on_progress=seen.append)
    assert result.ok
    assert seen and seen == sorted(seen) and seen[-1] <= result.bytes_in
    assert result.bytes_in == payload.stat().st_size
    assert result.stdout_tail.split()[0] == hashlib.sha256(payload.read_bytes()).hexdigest()


def test_exit_status_and_stderr_tail_are_returned(sshd: Sshd, pool: SSHPool) -> None:
    result = pool.stream(
        target(sshd), "echo out; echo first >&2; echo 'last words' >&2; exit 3", stdout=io.BytesIO()
    )
    assert result.exit_status == 3 and not result.ok
    assert result.last_stderr_line == "last words"


def test_a_command_killed_by_a_signal_has_no_exit_status(sshd: Sshd, pool: SSHPool) -> None:
    sink = io.BytesIO()
    result = pool.stream(target(sshd), "head -c 100000 /dev/zero; kill -9 $$", stdout=sink)
    assert result.exit_status == -1
    assert len(sink.getvalue()) == 100000


def test_heavy_stderr_does_not_stall_the_stream(sshd: Sshd, pool: SSHPool) -> None:
    sink = io.BytesIO()
    result = pool.stream(
        target(sshd), "head -c 6000000 /dev/zero >&2; echo done", stdout=sink, timeout=20
    )
    assert result.ok and sink.getvalue() == b"done\n"
    assert len(result.stderr_tail) <= 8 * 1024


def test_timeout_kills_the_remote_command(sshd: Sshd, pool: SSHPool) -> None:
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        pool.stream(target(sshd), "echo oops >&2; sleep 4343", stdout=io.BytesIO(), timeout=1)
    assert 1 <= time.monotonic() - started < 3
    assert "oops" in caught.value.stderr
    assert wait_for(lambda: user_processes(sshd.user, "sleep 4343") == [], timeout=3)
    assert pool.run(target(sshd), "echo fine").stdout == "fine\n"


class FullDisk(io.RawIOBase):
    """A sink that fails with ENOSPC after ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.written = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.written + len(data) > self.limit:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written += len(data)
        return len(data)


def test_a_failing_sink_kills_the_command_and_propagates(sshd: Sshd, pool: SSHPool) -> None:
    sink = FullDisk(1_000_000)
    with pytest.raises(OSError) as caught:
        pool.stream(target(sshd), "cat /dev/zero # stream-4444", stdout=sink, timeout=20)
    assert caught.value.errno == errno.ENOSPC
    assert wait_for(lambda: user_processes(sshd.user, "stream-4444") == [], timeout=3)
    assert pool.run(target(sshd), "echo fine").stdout == "fine\n"
