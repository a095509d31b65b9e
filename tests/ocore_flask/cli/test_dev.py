"""``ocore dev`` (the README's run command): embedded defaults, persistence, clean Ctrl-C."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

from dotenv import dotenv_values

from ocore_flask.testing import ServerProcess, base_env, free_port, run, script, wait_for


def _postgres_running(data_dir: str) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any("postgres" in line and data_dir in line for line in out.splitlines())


def _secrets(path) -> dict[str, str]:
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _run_once(instance, port: int, smtp_port: int) -> tuple[dict, str]:
    # An ephemeral SMTP_PORT: never the default 1025, where a developer's `ocore dev` sink
    # may already listen (this test would then send its mail into that sink).
    env = base_env({"OCORE_INSTANCE_PATH": str(instance), "SMTP_PORT": str(smtp_port)})
    server = ServerProcess([script("ocore"), "dev", "--port", str(port)], env, port)
    with server:
        with urllib.request.urlopen(f"{server.url}/api/health", timeout=5) as response:
            assert response.read() == b'{"status":"ok"}'
        token = _secrets(instance / "dev-secrets.env")["HEALTH_CHECK_TOKEN"]
        request = urllib.request.Request(
            f"{server.url}/api/health", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = json.loads(response.read())
        shell = _secrets(instance / "dev.env")
        mail = subprocess.run(
            [script("ocore"), "mail", "test", "dev@example.com"],
            env=base_env(shell),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert mail.returncode == 0, mail.stderr
        assert any((instance / "mail").glob("*.eml")), "the dev mail sink did not store the mail"
        assert server.stop(signal.SIGINT) == 0
    return payload, server.output


def test_dev_runs_on_embedded_defaults_and_a_second_run_reuses_everything(tmp_path):
    instance = tmp_path / "instance"
    port, smtp_port = free_port(), free_port()
    first, output = _run_once(instance, port, smtp_port)
    assert first["environment"] == "development"
    assert first["checks"]["database"]["status"] == "ok"
    assert f"http://127.0.0.1:{port}" in output and "Authorization: Bearer" in output
    assert "Traceback" not in output
    generated = _secrets(instance / "dev-secrets.env")
    assert generated["HEALTH_CHECK_TOKEN"] not in output, "the banner printed a secret"
    assert generated["JWT_SECRET"] not in output
    assert "migrated vault: empty -> " in output and "run `ocore db upgrade`" not in output
    assert not _postgres_running(str(instance)), "Ctrl-C left PostgreSQL running"
    secrets_before = _secrets(instance / "dev-secrets.env")
    assert set(secrets_before) == {"JWT_SECRET", "HEALTH_CHECK_TOKEN"}
    assert (instance / "dev-secrets.env").stat().st_mode & 0o077 == 0
    credentials = (instance / "postgres" / "credentials.json").read_text()

    # Leave a mark in the database, then check the second run sees it.
    import psycopg2

    from ocore_database.embedded import EmbeddedPostgres

    with EmbeddedPostgres(instance / "postgres") as pg:
        conn = psycopg2.connect(pg.url)
        conn.autocommit = True
        conn.cursor().execute("CREATE TABLE IF NOT EXISTS dev_mark (n int)")
        conn.close()

    started = time.monotonic()
    second, _ = _run_once(instance, port, smtp_port)
    assert time.monotonic() - started < 30
    assert _secrets(instance / "dev-secrets.env") == secrets_before
    assert (instance / "postgres" / "credentials.json").read_text() == credentials
    assert second["checks"]["database"]["status"] == "ok"
    with EmbeddedPostgres(instance / "postgres") as pg:
        conn = psycopg2.connect(pg.url)
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('dev_mark') IS NOT NULL")
            assert cur.fetchone()[0] is True
        conn.close()


def test_dev_refuses_a_strict_mode(tmp_path):
    result = subprocess.run(
        [script("ocore"), "dev"],
        env=base_env({"OCORE_INSTANCE_PATH": str(tmp_path), "ENVIRONMENT": "production"}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    assert "development only" in result.stderr


def test_database_url_from_the_environment_wins(tmp_path, database_url):
    port = free_port()
    env = base_env({"OCORE_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url})
    with ServerProcess([script("ocore"), "dev", "--port", str(port)], env, port) as server:
        assert server.stop(signal.SIGINT) == 0
    assert not (tmp_path / "postgres").exists()


def _hint(server: ServerProcess) -> str:
    """The banner's "other shells:" line, as printed."""
    assert wait_for(lambda: "other shells:" in server.output, timeout=10), server.output
    line = next(line for line in server.output.splitlines() if "other shells:" in line)
    return line.split("other shells:", 1)[1].strip()


def test_the_printed_hint_works_as_printed_even_after_a_vault_key_rotation(tmp_path):
    """The banner's one line for other shells, run exactly as printed in a shell whose PATH has
    no venv, makes ``ocore`` and the server's settings available: ``ocore health`` passes and
    the rich health curl works. SSH_ENCRYPTION_KEY is set as the README's rotation recipe does,
    and a credential is stored under it: ``dev.env`` must carry that key too."""
    instance = tmp_path / "instance"
    port, smtp_port = free_port(), free_port()
    key = secrets.token_urlsafe(36)
    env = base_env(
        {
            "OCORE_INSTANCE_PATH": str(instance),
            "SMTP_PORT": str(smtp_port),
            "SSH_ENCRYPTION_KEY": key,
        }
    )
    with ServerProcess([script("ocore"), "dev", "--port", str(port)], env, port) as server:
        hint = _hint(server)
        shell = _secrets(instance / "dev.env")
        stored = run(
            [script("ocore"), "vault", "put", "web", "--kind", "password", "--username", "deploy"],
            base_env({**shell, "SSH_ENCRYPTION_KEY": key}),
            stdin="a-password\n",
        )
        assert stored.returncode == 0, stored.stderr
        command = (
            f"{hint} && ocore health && curl -fsS "
            f'-H "Authorization: Bearer $HEALTH_CHECK_TOKEN" {server.url}/api/health'
        )
        clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        result = run(["bash", "-c", command], clean, timeout=60)
        assert result.returncode == 0, f"{hint}\n{result.stdout}\n{result.stderr}"
        assert "status: ok" in result.stdout
        assert '"checks"' in result.stdout  # the rich view: the token from dev.env was accepted
        assert server.stop(signal.SIGINT) == 0


def test_a_busy_port_is_one_line_and_exit_69_before_anything_starts(tmp_path):
    """A taken SERVER_PORT: one line naming the address, SERVER_PORT and the way out; exit 69;
    no embedded PostgreSQL, no mail sink, no migrations."""
    smtp_port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = base_env(
            {
                "OCORE_INSTANCE_PATH": str(tmp_path),
                "SERVER_PORT": str(port),
                "SMTP_PORT": str(smtp_port),
            }
        )
        started = time.monotonic()
        result = run([script("ocore"), "dev"], env, timeout=60)
    assert result.returncode == 69, result.stderr
    assert time.monotonic() - started < 15
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "SERVER_PORT" in line and "--port" in line
    assert "already in use" in line
    assert not (tmp_path / "postgres").exists(), "PostgreSQL was started for nothing"
    assert not (tmp_path / "mail").exists(), "the mail sink was started for nothing"
