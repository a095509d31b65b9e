"""The README's exit-code table, per server and process, against the real processes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ocore_flask.testing import ServerProcess, free_port, run, script
from tests.ocore_flask.serving.servers import serving_env

README = Path(__file__).resolve().parents[3] / "README.md"


def _row(status: str) -> str:
    table = README.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("###", 1)[0]
    return next(line for line in table.splitlines() if line.startswith(f"| {status}"))


def test_waitress_serve_ends_with_sigterm_as_the_table_says(database_url):
    port = free_port()
    argv = [script("waitress-serve"), "--listen", f"127.0.0.1:{port}", "wsgi:app"]
    with ServerProcess(argv, serving_env(database_url, "development"), port) as server:
        status = server.stop(signal.SIGTERM)
    assert status == -signal.SIGTERM  # the shell and supervisors report 128 + 15
    assert "`waitress-serve wsgi:app` stopped by SIGTERM" in _row(str(128 + signal.SIGTERM))
    assert "`gunicorn wsgi:app`" in _row("0") and "`ocore serve`" in _row("0")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ocore", "serve", "--port", "not-a-port"], 2),
        (["ocore", "serve", "--server", "gunicorn"], 2),
        (["ocore", "no-such-command"], 2),
        (["gunicorn", "--no-such-option", "wsgi:app"], 2),
        (["waitress-serve", "--no-such-option", "wsgi:app"], 1),
    ],
)
def test_usage_errors_exit_as_the_table_says(argv, expected):
    result = run(
        [script(argv[0]), *argv[1:]], serving_env("postgres://u:p@127.0.0.1:1/x", "development")
    )
    assert result.returncode == expected
    row = _row("2")
    assert "usage error" in row
    if argv[0] == "waitress-serve":
        assert "`waitress-serve` prints its help and exits 1" in row
