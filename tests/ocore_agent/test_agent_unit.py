"""The reference agent on its own: standard library only (nothing of the server side), Go
durations exactly as the host parses them, what it collects (``/proc``, ``statvfs``, a Docker
Engine API socket), where its token comes from, and its schedule (jitter, backoff,
Retry-After, the server's interval)."""

from __future__ import annotations

import ast
import http.server
import json
import socketserver
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocore_agent.__main__ import Agent, TokenSource
from ocore_agent.client import Answer, ConfigError, Target
from ocore_agent.collect import Collector, CPUMeter, read_containers, read_memory
from ocore_agent.durations import DurationError, parse_duration
from ocore_flask.config import DurationError as HostDurationError
from ocore_flask.config import parse_duration as host_parse_duration
from ocore_flask.testing import base_env, run

PACKAGE = Path(__file__).resolve().parents[2] / "ocore_agent"
TOKEN = "oca_" + "A" * 43


def test_the_agent_imports_only_the_standard_library() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top == "ocore_agent" or top in sys.stdlib_module_names, (path.name, name)
    probe = "import sys, ocore_agent.__main__; print(sorted(m.split('.')[0] for m in sys.modules))"
    done = run([sys.executable, "-c", probe], base_env())
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.replace("'", '"'))
    assert {name for name in loaded if name.startswith("ocore")} == {"ocore_agent"}


DURATIONS = [
    "0", "+0", "-0", "30s", "1h30m", "1.5h", ".5s", "1.s", "500ms", "2us", "3µs", "3μs", "7ns",
    "-1m", "+2h", "1h2m3s4ms5us6ns", "9223372036854775807ns", "9223372036854775808ns",
    "-9223372036854775808ns", "2562047h", "2562048h", "", "s", "1", "1x", "1.2.3s", ".s",
    "1s ", " 1s", "1sm", "--1s", "0.000000001s", "1e3s",
]  # fmt: skip


@pytest.mark.parametrize("text", DURATIONS)
def test_durations_match_the_host_parser(text: str) -> None:
    try:
        expected: int | str = int(host_parse_duration(text))
    except HostDurationError as exc:
        expected = str(exc)
    try:
        got: int | str = parse_duration(text)
    except DurationError as exc:
        got = str(exc)
    assert got == expected


def test_collects_real_figures_from_proc() -> None:
    body = Collector("1.2.3", ["/", "/definitely/not/here"], "/nonexistent.sock").collect()
    assert body["version"] == "1.2.3" and body["hostname"]
    assert body["uptime_s"] > 0 and body["cpu"]["count"] >= 1
    assert 0 <= body["cpu"]["percent"] <= 100
    assert set(body["load"]) == {"avg1", "avg5", "avg15"}
    memory = body["memory"]
    assert 0 < memory["available_bytes"] <= memory["total_bytes"]
    assert [d["path"] for d in body["disks"]] == ["/"]  # the missing path is skipped
    assert 0 <= body["disks"][0]["free_bytes"] <= body["disks"][0]["total_bytes"]
    assert body["containers"] is None  # no Docker socket: null


def test_unreadable_proc_leaves_figures_out(tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text("MemTotal: 100 kB\nMemAvailable: 200 kB\n")
    assert read_memory(tmp_path)["available_bytes"] == 100 * 1024  # clamped to the total
    body = Collector("1", [], "/nonexistent.sock", proc=tmp_path / "missing").collect()
    assert set(body) == {"version", "hostname", "cpu", "disks", "containers"}
    assert body["cpu"]["percent"] is None
    (tmp_path / "stat").write_text("cpu  100 0 100 800 0 0 0 0\n")
    meter = CPUMeter(tmp_path)
    meter.read()
    (tmp_path / "stat").write_text("cpu  150 0 150 900 0 0 0 0\n")
    assert meter.read()["percent"] == 50.0


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[tuple[str, list]]:
    """A unix socket answering ``GET /containers/json?all=1`` like the Docker Engine API
    (Docker itself is not installed here); the list it serves can be changed by the test."""
    containers: list = []
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = json.dumps(containers).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:
            return "docker"

        def log_message(self, *args: object) -> None:
            pass

    path = str(tmp_path / "docker.sock")
    server = _UnixServer(path, Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path, containers, seen
    finally:
        server.shutdown()
        server.server_close()


def test_containers_from_the_docker_socket(docker_socket) -> None:
    path, containers, seen = docker_socket
    containers += [
        {"Names": ["/web"], "State": "running", "Status": "Up 2 hours (healthy)"},
        {"Names": ["/db"], "State": "running", "Status": "Up 1 second (health: starting)"},
        {"Names": ["/job"], "State": "exited", "Status": "Exited (0) 3 days ago"},
        {"Names": ["/sick"], "State": "running", "Status": "Up 5 minutes (unhealthy)"},
        {"Names": ["/odd"], "State": "mystery", "Status": "?"},  # unknown state: left out
    ]
    assert read_containers(path) == [
        {"name": "web", "state": "running", "health": "healthy"},
        {"name": "db", "state": "running", "health": "starting"},
        {"name": "job", "state": "exited", "health": "none"},
        {"name": "sick", "state": "running", "health": "unhealthy"},
    ]
    assert seen == ["/containers/json?all=1"]
    containers[:] = [{"Names": [f"/c{i}"], "State": "running", "Status": "Up"} for i in range(600)]
    containers.append({"Names": ["/bad"], "State": "running", "Status": "Up (unhealthy)"})
    trimmed = read_containers(path)
    assert len(trimmed) == 500 and trimmed[0]["name"] == "bad", "trimmed, unhealthy kept"


def test_tokens_come_from_a_file_or_the_environment_only(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert TokenSource(str(token_file), {}).read() == TOKEN
    assert TokenSource(None, {"OCORE_AGENT_TOKEN": TOKEN}).read() == TOKEN
    with pytest.raises(ConfigError, match="no token"):
        TokenSource(None, {})
    token_file.write_text("oca_tooshort")
    with pytest.raises(ConfigError, match="does not hold an agent token") as refused:
        TokenSource(str(token_file), {})
    assert "tooshort" not in str(refused.value)
    with pytest.raises(ConfigError, match="No such file"):
        TokenSource(str(tmp_path / "missing"), {})


def test_the_command_line_refuses_a_token_argument_and_plain_http_elsewhere() -> None:
    agent = [sys.executable, "-m", "ocore_agent"]
    env = base_env({"OCORE_AGENT_TOKEN": TOKEN})
    for flag in ("--token", "--tok"):
        done = run([*agent, "--url", "https://x.example", flag, TOKEN], env)
        assert done.returncode == 2 and "unrecognized arguments" in done.stderr
        assert TOKEN not in done.stderr
    done = run([*agent, "--url", "http://ocore.example.com", "--once"], env)
    assert done.returncode == 78 and "https://" in done.stderr
    done = run([*agent, "--url", "https://x.example", "--once"], base_env())
    assert done.returncode == 78 and "OCORE_AGENT_TOKEN" in done.stderr
    done = run([*agent, "--url", "https://x.example", "--interval", "5"], env)
    assert done.returncode == 2 and "missing unit" in done.stderr
    assert Target.parse("https://h.example/base/").path == "/base/api/agents/push"
    assert str(Target.parse("http://127.0.0.1:8080")) == "http://127.0.0.1:8080/api/agents/push"


def test_the_schedule(tmp_path: Path) -> None:
    target = Target.parse("https://h.example")
    tokens = TokenSource(None, {"OCORE_AGENT_TOKEN": TOKEN})
    agent = Agent(target, tokens, Collector("1", []), None, interval=30.0)  # type: ignore[arg-type]
    ok = Answer(204, interval=30.0)
    delays = [agent.next_delay(ok) for _ in range(200)]
    assert 27 <= min(delays) < max(delays) <= 33, "±10 % jitter around the interval"
    backoff = [agent.next_delay(None) for _ in range(12)]
    assert 0.5 <= backoff[0] <= 1 and 4 <= backoff[3] <= 8, "exponential from 1s"
    assert all(b <= 300 for b in backoff) and backoff[-1] >= 150, "capped at 5 minutes"
    assert agent.next_delay(ok) >= 27 and agent.failures == 0, "success resets the backoff"
    limited = Answer(429, retry_after=7.0)
    assert 7 <= agent.next_delay(limited) <= 7.7, "Retry-After honoured"
