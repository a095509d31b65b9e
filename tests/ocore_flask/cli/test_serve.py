"""``ocore serve`` with its listen address taken: one line and exit 69, before the app (and its
database pool) starts; a real ``ocore serve`` process against a port this test occupies."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ocore_flask.testing import base_env, development_environ, run, script


@contextmanager
def _listening() -> Iterator[socket.socket]:
    """A loopback socket that listens but never accepts: connections queue up on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def _was_contacted(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.mark.parametrize("how", ["SERVER_PORT", "--port"])
def test_a_busy_port_exits_69_with_one_line_and_never_touches_the_database(how):
    with _listening() as busy, _listening() as database:
        port, db_port = busy.getsockname()[1], database.getsockname()[1]
        environ = development_environ(
            DATABASE_URL=f"postgres://ocore:pw@127.0.0.1:{db_port}/ocore",
            DB_STARTUP_TIMEOUT="30s",
        )
        argv = [script("ocore"), "serve"]
        if how == "SERVER_PORT":
            environ["SERVER_PORT"] = str(port)
        else:
            argv += ["--port", str(port)]
        result = run(argv, base_env(environ), timeout=60)
        contacted = _was_contacted(database)
    assert result.returncode == 69, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "SERVER_PORT" in line and "--port" in line and "already in use" in line
    assert not contacted, "PostgreSQL was contacted before the port was checked"


def test_a_free_port_passes_the_check():
    from ocore_flask.serving.ports import check_listen_address, listen_address

    with _listening() as taken:
        port = taken.getsockname()[1]
    environ = {"ENVIRONMENT": "development", "SERVER_PORT": str(port)}
    assert listen_address(environ) == ("127.0.0.1", port)
    assert listen_address({"ENVIRONMENT": "production"}) == ("0.0.0.0", 8080)
    assert listen_address({"SERVER_PORT": "eighty"}) is None  # the config report names it
    check_listen_address(environ)  # raises nothing
