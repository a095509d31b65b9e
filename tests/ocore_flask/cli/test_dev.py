"""``ocore dev`` (the README's run command): embedded defaults, persistence, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request

from ocore_flask.testing import ServerProcess, base_env, free_port, script


def _postgres_running(data_dir: str) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any("postgres" in line and data_dir in line for line in out.splitlines())


def _secrets(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _run_once(instance, port: int) -> tuple[dict, str]:
    env = base_env({"OCORE_INSTANCE_PATH": str(instance)})
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
    port = free_port()
    first, output = _run_once(instance, port)
    assert first["environment"] == "development"
    assert first["checks"]["database"]["status"] == "ok"
    assert f"http://127.0.0.1:{port}" in output and "Authorization: Bearer" in output
    assert "Traceback" not in output
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
    second, _ = _run_once(instance, port)
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
