"""Real waitress (``ocore serve``) and gunicorn processes on loopback: security headers per
mode, cookie flags, request ids, trusted proxies, log redaction, graceful drain, exit codes."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from ocore_flask.testing import (
    JWT_SECRET,
    ServerProcess,
    base_env,
    free_port,
    run,
    script,
)
from tests.ocore_flask.serving.servers import (
    BASE_HEADERS,
    SERVERS,
    get,
    serve_argv,
    serving_env,
)


@pytest.fixture(params=SERVERS)
def kind(request) -> str:
    return request.param


def test_strict_mode_headers_cookies_and_request_ids(kind, database_url):
    port = free_port()
    with ServerProcess(
        serve_argv(kind, port), serving_env(database_url, "production"), port
    ) as server:
        status, headers, body = get(port, "/api/health")
        assert status == 200 and body == b'{"status":"ok"}'
        for name, value in BASE_HEADERS.items():
            assert headers[name] == value
        assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"
        if kind == "granian":  # it always sends one; the app's empty value replaces "granian"
            assert headers["Server"] == "", "nothing to fingerprint"
        else:
            assert "Server" not in headers, "nothing to fingerprint"

        _, headers, _ = get(port, "/test/cookie")
        cookie = headers["Set-Cookie"]
        assert cookie.startswith("plain=1") and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie and "Secure" in cookie

        _, headers, _ = get(port, "/api/health", {"X-Request-ID": "abc-123"})
        assert headers["X-Request-ID"] == "abc-123"
        _, headers, _ = get(port, "/api/health", {"X-Request-ID": "bad id\u00e9"})
        assert headers["X-Request-ID"] != "bad id\u00e9" and len(headers["X-Request-ID"]) == 32
        get(port, "/test/leak")
        assert server.stop() == 0
    output = server.output
    assert JWT_SECRET not in output and "Pl4nted-Pw" not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    leak = [entry for entry in lines if entry.get("logger") == "servingtest"]
    assert leak and "***" in leak[0]["message"] and leak[0]["level"] == "warning"
    assert leak[0]["request_id"]
    access = [e for e in lines if e.get("logger") == "ocore_flask.access"]
    cookie = [e for e in access if e.get("path") == "/test/cookie"]
    assert cookie and cookie[0]["method"] == "GET" and cookie[0]["status"] == 200
    assert cookie[0]["remote_addr"] == "127.0.0.1" and cookie[0]["request_id"]
    assert isinstance(cookie[0]["duration_ms"], float)
    if kind != "waitress":  # the server's own lines share the format: every line is JSON
        assert all(line.startswith("{") for line in output.splitlines() if line.strip())
        assert any(
            e["logger"] == {"gunicorn": "gunicorn.error"}.get(kind, "_granian") for e in lines
        )
    if kind != "gunicorn":  # the "serving on" line goes through the logger too
        assert any(e["message"].startswith(f"serving on http://127.0.0.1:{port}") for e in lines)
    assert "setup plugin" not in output, "alembic's plugin chatter stays quiet"
    assert not any(e["message"].startswith("GET /api/health 200") for e in access), (
        "successful anonymous health probes must not be access-logged at info"
    )


def test_development_mode_relaxes_hsts_and_secure(kind, database_url):
    port = free_port()
    with ServerProcess(serve_argv(kind, port), serving_env(database_url, "development"), port):
        _, headers, _ = get(port, "/api/health")
        assert "Strict-Transport-Security" not in headers
        for name, value in BASE_HEADERS.items():
            assert headers[name] == value
        _, headers, _ = get(port, "/test/cookie")
        assert "HttpOnly" in headers["Set-Cookie"] and "Secure" not in headers["Set-Cookie"]


@pytest.mark.parametrize("hops", ["0", "1"])
def test_forwarded_headers_are_trusted_for_exactly_the_configured_hops(kind, database_url, hops):
    port = free_port()
    env = serving_env(database_url, "development", TRUSTED_PROXY_HOPS=hops)
    with ServerProcess(serve_argv(kind, port), env, port):
        spoofed = {"X-Forwarded-For": "6.6.6.6, 10.1.2.3", "X-Forwarded-Proto": "https"}
        _, _, body = get(port, "/test/client", spoofed)
        seen = json.loads(body)
    if hops == "0":
        assert seen["remote_addr"] == "127.0.0.1" and seen["scheme"] == "http"
    else:
        assert seen["remote_addr"] == "10.1.2.3", "only the last (trusted) hop counts"
        assert seen["scheme"] == "https"


def test_sigterm_drains_a_slow_request_then_exits_0(kind, database_url):
    port = free_port()
    server = ServerProcess(
        serve_argv(kind, port), serving_env(database_url, "development"), port
    ).start()
    result: dict = {}

    def slow() -> None:
        result["response"] = get(port, "/test/slow?seconds=2")

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    thread.join(timeout=15)
    assert server.proc.wait(timeout=15) == 0  # one SIGTERM only: no second signal
    server.stop()
    status, _, body = result["response"]
    assert status == 200 and json.loads(body) == {"done": True}
    assert time.monotonic() - started < 10
    with pytest.raises(OSError):
        get(port, "/api/health")


def test_waitress_entry_points_exit_78_on_a_broken_configuration():
    for argv in (
        [script("waitress-serve"), "--port", str(free_port()), "wsgi:app"],
        [script("ocore"), "serve", "--port", str(free_port())],
    ):
        result = run(argv, base_env(), timeout=30)
        assert result.returncode == 78, argv
        assert "JWT_SECRET" in result.stderr and "Traceback" not in result.stderr
