"""Real processes: the ``ocore-agent`` console script pushing to real servers (``ocore serve``
on waitress, gunicorn with TLS; their app has the agents plugin and what it requires, not every
installed plugin) on one PostgreSQL database. The rate limit holds across two
server processes; statuses move online → stale → offline once the agent stops; the agent
honours the server's interval, backs off, exits cleanly on SIGTERM, verifies TLS; no token
ever appears in any server's or agent's output."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import ocore_agent
import ocore_agents
from ocore_agents.testing import SERVER_APP, push_body, register_agent, server_env, truncate
from ocore_flask.testing import (
    HEALTH_TOKEN,
    ServerProcess,
    base_env,
    free_port,
    run,
    script,
    wait_for,
)

FAST = "200ms"  # AGENT_PUSH_INTERVAL of the fast server: stale after 0.6 s, offline after 2 s


def serve(agents_env: dict[str, str], **variables: str) -> ServerProcess:
    port = free_port()
    env = server_env(agents_env, SERVER_PORT=str(port), LOG_LEVEL="info", **variables)
    argv = [script("flask"), "--app", SERVER_APP, "ocore", "serve"]
    return ServerProcess(argv, env, port, name=f"ocore serve :{port}")


@pytest.fixture(scope="module")
def servers(agents_env: dict[str, str]) -> Iterator[tuple[ServerProcess, ...]]:
    """Two servers with the default settings (30s, pushes at most every 10s) and one with
    AGENT_PUSH_INTERVAL=200ms, all on the module's database; started in parallel."""
    started = [serve(agents_env), serve(agents_env), serve(agents_env, AGENT_PUSH_INTERVAL=FAST)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda server: server.start(), started))
        yield tuple(started)
    finally:
        for server in started:
            server.close()


def agent_argv(url: str, *extra: str) -> list[str]:
    return [script("ocore-agent"), "--url", url, "--docker-socket", "/nonexistent.sock", *extra]


def agent_env(token: str) -> dict[str, str]:
    return base_env({"OCORE_AGENT_TOKEN": token})


def no_token_in(token: str, *outputs: str) -> None:
    for output in outputs:
        assert token not in output
        assert token[4:20] not in output  # not even a part of it


def pushes(app, server: str = "web1") -> int:
    return ocore_agents.agents(app).get(server).pushes


def test_the_reference_agent_pushes_once_and_the_next_is_429_elsewhere(agents_app, servers):
    a, b, _ = servers
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    done = run(agent_argv(a.url, "--once"), agent_env(agent.token))
    assert done.returncode == 0, done.stderr
    stored = ocore_agents.agents(agents_app).get("web1")
    assert (stored.pushes, stored.status, stored.version) == (1, "online", ocore_agent.__version__)
    assert stored.hostname == socket.gethostname()
    snapshot = stored.snapshot
    assert snapshot["uptime_s"] > 0 and snapshot["cpu"]["count"] >= 1
    assert snapshot["memory"]["total_bytes"] > 0 and snapshot["disks"][0]["path"] == "/"
    assert snapshot["containers"] is None
    refused = run(agent_argv(b.url, "--once"), agent_env(agent.token))
    assert refused.returncode == 1 and "HTTP 429" in refused.stderr
    assert pushes(agents_app) == 1
    no_token_in(agent.token, done.stdout, done.stderr, refused.stderr, a.output, b.output)
    assert "/api/agents/push" in a.output + b.output  # access lines were logged


def test_the_rate_holds_across_two_processes_under_a_race(agents_app, servers):
    a, b, _ = servers
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    body = json.dumps(push_body()).encode()
    barrier = threading.Barrier(12, timeout=20)

    def push(port: int) -> tuple[int, str | None]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.connect()
        barrier.wait()
        conn.request("POST", "/api/agents/push", body, agent.headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, response.getheader("Retry-After")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(push, [a.port, b.port] * 6))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [204] + [429] * 11, answers
    assert all(1 <= int(retry) <= 10 for status, retry in answers if status == 429)
    assert pushes(agents_app) == 1
    no_token_in(agent.token, a.output, b.output)


def test_revoked_and_unknown_tokens_stop_the_real_agent(agents_app, servers, tmp_path: Path):
    a, _, _ = servers
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    ocore_agents.agents(agents_app).revoke("web1")
    token_file = tmp_path / "token"
    token_file.write_text(agent.token + "\n")
    token_file.chmod(0o600)
    done = run(agent_argv(a.url, "--once", "--token-file", str(token_file)), base_env())
    assert done.returncode == 1 and "HTTP 401" in done.stderr
    assert pushes(agents_app) == 0
    no_token_in(agent.token, done.stderr, a.output)


def rich(server: ServerProcess) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    payload = json.loads(conn.getresponse().read())
    conn.close()
    return payload["checks"]["agents"]


def test_the_agent_loop_follows_the_server_and_statuses_age(agents_app, servers):
    _, _, fast = servers
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    proc = subprocess.Popen(
        agent_argv(fast.url, "--interval", "1s"),
        env=agent_env(agent.token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # --interval says 1s, the server says 200ms: four pushes well before 4 s (~1 s)
        assert wait_for(lambda: pushes(agents_app) >= 4, timeout=5, interval=0.05)
        section = rich(fast)
        assert section["status"] == "ok" and section["data"]["online"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=5)
    assert "SIGTERM: stopping" in err and "first push stored" in err
    stopped = pushes(agents_app)
    assert wait_for(lambda: rich(fast)["data"]["stale"] == 1, timeout=3, interval=0.05)
    stale = rich(fast)
    assert stale["status"] == "degraded" and stale["data"]["worst"] == ["web1"]
    assert wait_for(lambda: rich(fast)["data"]["offline"] == 1, timeout=4, interval=0.1)
    assert rich(fast)["message"] == "agents 1 offline: web1"
    assert pushes(agents_app) == stopped, "nothing pushed after SIGTERM"
    no_token_in(agent.token, out, err, fast.output)


def test_the_agent_backs_off_while_the_server_is_away() -> None:
    port = free_port()  # nothing listens there
    proc = subprocess.Popen(
        agent_argv(f"http://127.0.0.1:{port}", "--interval", "100ms"),
        env=agent_env("oca_" + "B" * 43),
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.6)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    attempts = proc.stderr.read().count("failed: [Errno 111]")
    proc.stderr.close()
    # without backoff: 16 attempts; with it (0.1 s doubling, half-to-full jitter): 4 to 6
    # (fewer when the process starts slowly)
    assert 2 <= attempts <= 7, attempts


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, public, signer, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("ocore test CA", "ocore test CA", ca_key.public_key(), ca_key, ca=True)
    cert = build("127.0.0.1", "ocore test CA", key.public_key(), ca_key, ca=False)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class TLSServer(ServerProcess):
    """A server answering HTTPS only: ready once a verified TLS request gets an answer."""

    context: ssl.SSLContext

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            return super()._ready()  # raises with the output
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=2, context=self.context)
        try:
            conn.request("GET", "/api/health")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()


def test_tls_is_verified_and_a_chunked_body_is_cut_off(agents_app, agents_env, tmp_path):
    ca, cert, key = _certificates(tmp_path)
    truncate(agents_app)
    agent = register_agent(agents_app, "web1")
    port = free_port()
    argv = [script("gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}"]
    argv += ["--certfile", str(cert), "--keyfile", str(key), SERVER_APP]
    server = TLSServer(argv, server_env(agents_env, LOG_LEVEL="info"), port, name="gunicorn tls")
    server.context = ssl.create_default_context(cafile=str(ca))
    url = f"https://127.0.0.1:{port}"
    with server:
        unverified = run(agent_argv(url, "--once"), agent_env(agent.token))
        assert unverified.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in unverified.stderr
        assert pushes(agents_app) == 0
        # chunked: no Content-Length, so only the length as read can trip the limit
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=server.context)
        chunks = (b" " * 8192 for _ in range(10))
        conn.request("POST", "/api/agents/push", chunks, agent.headers, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413, response.read()
        conn.close()
        assert pushes(agents_app) == 0
        verified = run(agent_argv(url, "--once", "--ca-file", str(ca)), agent_env(agent.token))
        assert verified.returncode == 0, verified.stderr
        assert pushes(agents_app) == 1
    no_token_in(agent.token, server.output, unverified.stderr, verified.stderr)
