"""The embedded PostgreSQL launcher, against a real server (one cluster for the module)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from ocore_database.embedded import EmbeddedPostgres, EmbeddedPostgresError
from ocore_flask.testing import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded server for the whole module, stopped at the end."""
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pg", max_connections=42)
    pg.start()
    yield pg
    pg.stop()


def query(url: str, sql: str, *args: object) -> list[tuple]:
    """Run one statement on a fresh connection and return its rows."""
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pid_alive(pid: int) -> bool:
    """True if pid is a live, non-zombie process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_start_initialises_a_loopback_cluster_with_a_password(server: EmbeddedPostgres) -> None:
    assert server.is_running()
    assert server.url == (f"postgresql://ocore:{server.password}@127.0.0.1:{server.port}/ocore")
    assert server.startup_seconds is not None and server.startup_seconds < 10
    rows = query(
        server.url,
        "SELECT current_user, current_database(), current_setting('listen_addresses'),"
        " current_setting('fsync'), current_setting('max_connections'), inet_server_addr()",
    )
    assert rows == [("ocore", "ocore", "127.0.0.1", "off", "42", "127.0.0.1")]
    assert (server.pgdata / "PG_VERSION").is_file()
    creds = server.data_dir / "credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    assert server.socket_dir == server.data_dir / "run" or len(str(server.data_dir)) > 80
    assert any(server.socket_dir.glob(".s.PGSQL.*"))


def test_the_password_is_enforced(server: EmbeddedPostgres) -> None:
    wrong = server.url.replace(server.password, "not-the-password")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong, connect_timeout=5)


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when the tests run as root")
def test_as_root_the_server_runs_without_root_privileges(server: EmbeddedPostgres) -> None:
    status = Path(f"/proc/{server.pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    uid_map = Path(f"/proc/{server.pid}/uid_map").read_text().split()
    # Either a real unprivileged uid (setuid mode), or a user namespace where the server's
    # uid is not 0 (userns mode: root outside is mapped to an unprivileged uid inside).
    assert uid != "0" or (uid_map[:2] != ["0", "0"] and uid_map[0] != "0")
    assert query(server.url, "SELECT current_setting('is_superuser')") == [("on",)]


def test_restart_keeps_port_password_and_data(server: EmbeddedPostgres) -> None:
    query(server.url, "CREATE TABLE IF NOT EXISTS kept (v text)")
    query(server.url, "INSERT INTO kept VALUES ('survives')")
    url, pid = server.url, server.pid
    server.restart()
    assert server.is_running()
    assert server.url == url and server.pid != pid
    assert ("survives",) in query(server.url, "SELECT v FROM kept")


def test_stop_is_idempotent_and_a_new_object_reuses_the_cluster(
    server: EmbeddedPostgres,
) -> None:
    pid = server.pid
    assert pid is not None
    server.stop()
    server.stop()
    assert not server.is_running() and server.pid is None
    assert wait_for(lambda: not pid_alive(pid))
    assert not (server.pgdata / "postmaster.pid").exists()
    url = server.url
    with EmbeddedPostgres(server.data_dir, max_connections=42) as again:
        assert again.url == url  # same stored password and (free again) port
        assert ("survives",) in query(again.url, "SELECT v FROM kept")
    assert not again.is_running()
    server.start()


def test_a_crashed_server_and_its_stale_pid_file_are_handled(server: EmbeddedPostgres) -> None:
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not server.is_running())
    assert (server.pgdata / "postmaster.pid").exists()  # left behind by the crash
    server.start()
    assert server.pid != pid
    assert query(server.url, "SELECT 1") == [(1,)]

    # A pid file naming a live process that is not a postmaster (pid reuse).
    server.stop()
    (server.pgdata / "postmaster.pid").write_text(f"1\n{server.pgdata}\n0\n1\n\n\n\nready\n")
    server.start()
    assert query(server.url, "SELECT 1") == [(1,)]


def _start_in_child(server: EmbeddedPostgres, *, from_thread: bool) -> tuple[int, int]:
    """Start the cluster in a child interpreter, SIGKILL that child, return (child, postgres)."""
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        from pathlib import Path
        from ocore_database.embedded import EmbeddedPostgres
        pg = EmbeddedPostgres(Path({str(server.data_dir)!r}), max_connections=42)
        if {from_thread!r}:
            t = threading.Thread(target=pg.start); t.start(); t.join()
        else:
            pg.start()
        print(pg.pid, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    child.kill()
    child.wait()
    child.stdout.close()
    assert line.strip().isdigit(), f"child did not start the server: {line!r}"
    return child.pid, int(line)


def test_no_server_outlives_a_killed_owner(server: EmbeddedPostgres) -> None:
    server.stop()
    # Started from the main thread: the server dies with its owner (parent-death signal).
    _, pg_pid = _start_in_child(server, from_thread=False)
    assert wait_for(lambda: not pid_alive(pg_pid))
    # Started from another thread, it survives the owner: the next start() stops the orphan.
    _, pg_pid = _start_in_child(server, from_thread=True)
    time.sleep(0.2)
    assert pid_alive(pg_pid)
    server.start()
    assert not pid_alive(pg_pid)
    assert server.pid != pg_pid and query(server.url, "SELECT 1") == [(1,)]


def test_a_second_object_cannot_take_over_a_running_cluster(server: EmbeddedPostgres) -> None:
    other = EmbeddedPostgres(server.data_dir, max_connections=42)
    with pytest.raises(EmbeddedPostgresError, match="already runs"):
        other.start()
    assert server.is_running()


def test_a_forked_child_never_stops_the_parents_server(server: EmbeddedPostgres) -> None:
    pid = os.fork()
    if pid == 0:  # child: both the explicit stop and the atexit hook must be no-ops
        try:
            server.stop()
            server._atexit_stop()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert server.is_running()
    assert query(server.url, "SELECT 1") == [(1,)]


def test_a_long_data_dir_gets_a_short_socket_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "pg"
    pg = EmbeddedPostgres(deep)
    assert len(os.fsencode(pg.socket_dir / ".s.PGSQL.65535.lock")) <= 107
    assert pg.socket_dir != deep / "run"
    assert not pg.is_running()
    pg.stop()  # never started: a no-op


def test_a_cluster_made_for_another_user_is_refused(server: EmbeddedPostgres) -> None:
    with pytest.raises(EmbeddedPostgresError, match="initialised for user 'ocore'"):
        _ = EmbeddedPostgres(server.data_dir, user="someone").url
