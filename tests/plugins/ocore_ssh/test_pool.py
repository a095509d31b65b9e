"""SSHPool against a real OpenSSH sshd on 127.0.0.1: auth, reuse, caps, idle, recovery, errors."""

from __future__ import annotations

import io
import os
import threading
import time

import paramiko
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ocore_flask.testing import wait_for
from ocore_ssh.pool import (
    AuthFailed,
    CommandTimeout,
    KeyAuth,
    PasswordAuth,
    PoolExhausted,
    SSHConnectError,
    SSHPool,
    SSHTarget,
)
from ocore_ssh.testing import Sshd, user_processes


def make_ed25519_key() -> paramiko.Ed25519Key:
    """Generate an Ed25519 key in memory (never written to disk)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))


def public_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


@pytest.fixture(scope="module")
def client_key(sshd: Sshd) -> paramiko.Ed25519Key:
    key = make_ed25519_key()
    sshd.authorize(public_line(key))
    return key


def password_target(server: Sshd, name: str = "web1", password: str | None = None) -> SSHTarget:
    return SSHTarget(
        name=name,
        host=server.host,
        port=server.port,
        username=server.user,
        auth=PasswordAuth(server.password if password is None else password),
    )


def key_target(server: Sshd, key: paramiko.PKey, name: str = "web-key") -> SSHTarget:
    return SSHTarget(
        name=name, host=server.host, port=server.port, username=server.user, auth=KeyAuth(key)
    )


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_password_auth_runs_command(sshd: Sshd) -> None:
    with SSHPool() as pool:
        result = pool.run(password_target(sshd), "id -un; echo oops >&2")
    assert result.exit_status == 0
    assert result.ok
    assert result.stdout == f"{sshd.user}\n"
    assert result.stderr == "oops\n"
    assert 0 < result.duration < 5


def test_key_auth_with_in_memory_key(sshd: Sshd, client_key: paramiko.Ed25519Key) -> None:
    with SSHPool() as pool:
        result = pool.run(key_target(sshd, client_key), "id -un")
    assert result.stdout.strip() == sshd.user


def test_nonzero_exit_status_is_returned_not_raised(sshd: Sshd) -> None:
    with SSHPool() as pool:
        result = pool.run(password_target(sshd), "echo partial; exit 7")
    assert result.exit_status == 7
    assert not result.ok
    assert result.stdout == "partial\n"


def test_one_connection_serves_many_commands(sshd: Sshd) -> None:
    target = password_target(sshd)
    with SSHPool() as pool:
        with pool.connection(target) as conn:
            transport = conn.transport
            local_port = transport.sock.getsockname()[1]
        for i in range(20):
            assert pool.run(target, f"echo {i}").stdout == f"{i}\n"
            with pool.connection(target) as conn:
                assert conn.transport is transport
                assert conn.transport.sock.getsockname()[1] == local_port
        assert pool.stats()["servers"]["web1"]["open"] == 1
        assert sshd.established_connections() == 1


def test_per_server_cap_under_concurrency(sshd: Sshd) -> None:
    target = password_target(sshd, name="capped")
    pool = SSHPool(max_per_host=2, acquire_timeout=10)
    client_side: list[int] = []
    server_side: list[int] = []
    done = threading.Event()

    def monitor() -> None:
        while not done.is_set():
            server = pool.stats()["servers"].get("capped", {})
            client_side.append(server.get("open", 0) + server.get("connecting", 0))
            server_side.append(sshd.established_connections())
            time.sleep(0.01)

    results: list[int] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results.append(pool.run(target, f"sleep 0.2; exit {i}").exit_status)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    try:
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout=20)
    finally:
        done.set()
        watcher.join()
        pool.close()
    assert errors == []
    assert sorted(results) == list(range(8))
    assert max(client_side) == 2
    assert 1 <= max(server_side) <= 2


def test_caller_beyond_cap_gets_pool_exhausted(sshd: Sshd) -> None:
    target = password_target(sshd, name="tiny")
    with SSHPool(max_per_host=1, acquire_timeout=0.3) as pool:
        with pool.connection(target):
            started = time.monotonic()
            with pytest.raises(PoolExhausted, match="tiny"), pool.connection(target):
                pass  # pragma: no cover
            assert 0.25 <= time.monotonic() - started < 2
        # Released: the next caller gets the same connection straight away.
        assert pool.run(target, "true").exit_status == 0


def test_idle_connections_are_closed(sshd: Sshd) -> None:
    target = password_target(sshd, name="idle")
    with SSHPool(idle_timeout=0.2) as pool:
        with pool.connection(target) as conn:
            transport = conn.transport
        assert pool.stats()["idle"] == 1
        assert wait_for(lambda: pool.stats()["open"] == 0, timeout=3)
        assert not transport.is_active()
        assert wait_for(lambda: sshd.established_connections() == 0, timeout=3)
        # A later call simply opens a new connection.
        assert pool.run(target, "echo again").stdout == "again\n"


def test_recovers_after_sshd_restart() -> None:
    with Sshd() as server:
        target = password_target(server, name="restarted")
        with SSHPool() as pool:
            with pool.connection(target) as conn:
                before = conn.transport
            server.restart()  # kills every session, like a reboot; same port and host keys
            result = pool.run(target, "echo back")
            assert result.stdout == "back\n"
            with pool.connection(target) as conn:
                assert conn.transport is not before
            assert not before.is_active()
            assert pool.stats()["servers"]["restarted"]["open"] == 1


def test_wrong_password_is_auth_failed_and_sanitised(sshd: Sshd) -> None:
    wrong = "not-the-password-xyz"
    target = password_target(sshd, name="badpw", password=wrong)
    with SSHPool() as pool:
        with pytest.raises(AuthFailed, match="badpw"):
            pool.run(target, "true")
        stats = pool.stats()
    server = stats["servers"]["badpw"]
    assert stats["connection_failures"] == 1
    assert server["failures"] == 1
    assert server["open"] == 0
    assert "authentication failed" in server["last_error"]
    assert wrong not in server["last_error"]
    assert server["last_error_at"] is not None


def test_wrong_key_is_auth_failed(sshd: Sshd) -> None:
    stranger = make_ed25519_key()  # never authorized
    with SSHPool() as pool, pytest.raises(AuthFailed):
        pool.run(key_target(sshd, stranger, name="badkey"), "true")


def test_closed_port_is_connect_failed_fast(sshd: Sshd) -> None:
    closed = Sshd()  # allocated a free port but never started
    try:
        target = password_target(closed, name="down")
        with SSHPool(connect_timeout=5) as pool:
            started = time.monotonic()
            with pytest.raises(SSHConnectError, match="down"):
                pool.run(target, "true")
            assert time.monotonic() - started < 1
            assert pool.stats()["servers"]["down"]["failures"] == 1
    finally:
        closed.cleanup()


def test_command_timeout_kills_the_command(sshd: Sshd) -> None:
    target = password_target(sshd, name="slow")
    with SSHPool() as pool:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="slow") as caught:
            pool.run(target, "echo started; sleep 4242", timeout=1)
        elapsed = time.monotonic() - started
        assert 1 <= elapsed < 3  # the timeout, plus a fresh login on a busy machine
        assert caught.value.timeout == 1
        assert caught.value.stdout == "started\n"
        # The remote process is gone, and the connection is still good for the next command.
        assert wait_for(lambda: user_processes(sshd.user, "sleep 4242") == [], timeout=3)
        assert pool.run(target, "echo fine").stdout == "fine\n"
        assert pool.stats()["servers"]["slow"]["open"] == 1


def test_stats_track_in_use_and_idle(sshd: Sshd) -> None:
    a, b = password_target(sshd, name="a"), password_target(sshd, name="b")
    with SSHPool() as pool:
        assert pool.stats()["open"] == 0
        with pool.connection(a), pool.connection(a), pool.connection(b):
            stats = pool.stats()
            assert (stats["open"], stats["in_use"], stats["idle"]) == (3, 3, 0)
            assert stats["servers"]["a"]["in_use"] == 2
            assert stats["servers"]["b"]["in_use"] == 1
        stats = pool.stats()
        assert (stats["open"], stats["in_use"], stats["idle"]) == (3, 0, 3)
        assert stats["servers"]["a"] == {
            "open": 2,
            "in_use": 0,
            "idle": 2,
            "connecting": 0,
            "failures": 0,
            "last_error": None,
            "last_error_at": None,
        }
        assert stats["connection_failures"] == 0
    assert pool.stats()["open"] == 0
    assert pool.stats()["closed"] is True


def test_changed_credentials_retire_old_connections(
    sshd: Sshd, client_key: paramiko.Ed25519Key
) -> None:
    with SSHPool() as pool:
        with pool.connection(password_target(sshd, name="moved")) as conn:
            old = conn.transport
        with pool.connection(key_target(sshd, client_key, name="moved")) as conn:
            assert conn.transport is not old
        assert not old.is_active()
        assert pool.stats()["servers"]["moved"]["open"] == 1


def test_secrets_never_in_reprs(client_key: paramiko.Ed25519Key) -> None:
    target = SSHTarget("s", "127.0.0.1", 22, "u", PasswordAuth("hunter2-secret"))
    assert "hunter2-secret" not in repr(target)
    assert "hunter2-secret" not in str(target)
    key_repr = repr(KeyAuth(client_key))
    assert client_key.fingerprint in key_repr
    assert client_key.get_base64() not in key_repr


def test_close_leaks_no_threads_or_sockets(sshd: Sshd, client_key: paramiko.Ed25519Key) -> None:
    def exercise() -> None:
        pool = SSHPool(max_per_host=3, idle_timeout=60)
        targets = [password_target(sshd, name="leak-pw"), key_target(sshd, client_key, "leak-k")]
        workers = [
            threading.Thread(target=pool.run, args=(targets[i % 2], "sleep 0.1")) for i in range(6)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        with pytest.raises(AuthFailed):
            pool.run(password_target(sshd, name="leak-bad", password="wrong"), "true")
        with pytest.raises(CommandTimeout):
            pool.run(targets[0], "sleep 30", timeout=0.5)
        assert pool.stats()["open"] >= 2
        pool.close()

    exercise()  # warm-up: lazily created library state (e.g. crypto backends) stays
    threads, fds = threading.active_count(), open_fds()
    exercise()
    assert wait_for(lambda: threading.active_count() <= threads, timeout=3), threading.enumerate()
    assert wait_for(lambda: open_fds() <= fds, timeout=3), os.listdir("/proc/self/fd")
