"""Logs and forwarded headers of real waitress, granian (``ocore serve``) and gunicorn
processes: no forged lines in text logs, the operator's LOG_CONFIG (still redacted), only the
documented proxy headers trusted."""

from __future__ import annotations

import json

import pytest

from ocore_flask.testing import JWT_SECRET, ServerProcess, base_env, free_port, run, script
from tests.ocore_flask.serving.servers import SERVERS, get, serve_argv, serving_env

FORGED = "2026-12-01 04:40:00,000 CRITICAL"


@pytest.fixture(params=SERVERS)
def kind(request) -> str:
    return request.param


def test_a_request_cannot_forge_a_text_log_line(kind, database_url):
    port = free_port()
    env = serving_env(database_url, "development", LOG_FORMAT="text")
    with ServerProcess(serve_argv(kind, port), env, port) as server:
        path = "/x%0a2026-12-01%2004:40:00,000%20CRITICAL%20forged%0d%1b[31m%e2%80%a8end"
        status, _, _ = get(port, path)
        assert status == 404
        assert server.stop() == 0
    lines = server.output.splitlines()
    assert not any(line.startswith(FORGED) for line in lines), "a forged line was written"
    access = [line for line in lines if "ocore_flask.access" in line and "/x" in line]
    assert len(access) == 1
    assert "/x\\n2026-12-01 04:40:00,000 CRITICAL forged\\r\\x1b[31m\\u2028end 404" in access[0]
    assert "\x1b" not in server.output


def test_operator_log_config_replaces_ours_and_stays_redacted(kind, database_url, tmp_path):
    log_file = tmp_path / "ocore.log"
    config = {
        "version": 1,
        "formatters": {"mine": {"format": "MINE %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(log_file), "formatter": "mine"}
        },
        "root": {"level": "INFO", "handlers": ["file"]},
    }
    config_file = tmp_path / "logging.json"
    config_file.write_text(json.dumps(config))
    port = free_port()
    env = serving_env(database_url, "production", LOG_CONFIG=str(config_file))
    with ServerProcess(serve_argv(kind, port), env, port) as server:
        get(port, "/test/leak")
        get(port, "/test/cookie")
        assert server.stop() == 0
    written = log_file.read_text()
    lines = written.splitlines()
    assert lines and all(line.startswith("MINE ") for line in lines)
    assert any("ocore_flask.access GET /test/cookie 200" in line for line in lines)
    assert any("servingtest leaking ***" in line for line in lines)
    assert JWT_SECRET not in written and "Pl4nted-Pw" not in written
    assert JWT_SECRET not in server.output
    assert "setup plugin" not in written, "libraries stay quiet unless the file says otherwise"
    if kind == "gunicorn":
        assert any(line.startswith("MINE INFO gunicorn.error Booting worker") for line in lines)
    if kind == "granian":
        assert any(line.startswith("MINE INFO _granian Spawning worker-1") for line in lines)


UNUSABLE = {
    '{"version": 1,': "invalid JSON at line 1",
    '{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}': "dictConfig accepts",
}


@pytest.mark.parametrize("content", list(UNUSABLE))
@pytest.mark.parametrize("entry", ["waitress", "granian", "gunicorn"])
def test_an_unusable_log_config_is_a_configuration_error(entry, content, tmp_path):
    broken = tmp_path / "logging.json"
    broken.write_text(content)
    env = base_env(
        {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET, "LOG_CONFIG": str(broken)}
    )
    env["DATABASE_URL"] = "postgres://u:p@127.0.0.1:1/x"
    env["DB_STARTUP_TIMEOUT"] = "1s"
    argv = (
        [script("gunicorn"), "wsgi:app"]
        if entry == "gunicorn"
        else [script("ocore"), "serve", "--server", entry]
    )
    env["SERVER_PORT"] = str(free_port())
    result = run(argv, env, timeout=30)
    assert result.returncode == 78, result.stderr[-2000:]
    assert "LOG_CONFIG" in result.stderr and UNUSABLE[content] in result.stderr
    assert "Traceback" not in result.stderr


def test_only_the_headers_the_documented_proxy_sets_are_trusted(kind, database_url):
    port = free_port()
    env = serving_env(database_url, "development", TRUSTED_PROXY_HOPS="1")
    with ServerProcess(serve_argv(kind, port), env, port):
        forwarded = {
            "X-Forwarded-For": "10.1.2.3",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "ocore.example.com",
            "X-Forwarded-Port": "9999",
            "X-Forwarded-Prefix": "/evil",
        }
        _, _, body = get(port, "/test/client", forwarded)
    seen = json.loads(body)
    assert seen["remote_addr"] == "10.1.2.3" and seen["scheme"] == "https"
    assert seen["host"] == "ocore.example.com", "X-Forwarded-Port is not trusted"
    assert seen["script_root"] == "", "X-Forwarded-Prefix is not trusted"
    assert seen["url_root"] == "https://ocore.example.com/"
