"""The test kits as a third party's suite sees them: pytest11 entry points of the installed
distribution, fixtures available without any conftest, and a light import at pytest startup."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

KITS = {
    "ocore_flask": "ocore_flask.testing.plugin",
    "ocore_database": "ocore_database.testing",
    "ocore_ssh": "ocore_ssh.testing.plugin",
    "ocore_mail": "ocore_mail.testing.plugin",
}
HEAVY = ("sqlalchemy", "psycopg2", "paramiko", "aiosmtpd", "alembic", "fabric")

SUITE = """
import os
import smtplib

import pytest
from sqlalchemy import create_engine, inspect

from ocore_database.testing import sqlalchemy_url
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET


def test_environments(dev_env, strict_env, isolated_environ):
    assert dev_env == {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}
    assert strict_env["ENVIRONMENT"] == "production"
    assert strict_env["HEALTH_CHECK_TOKEN"] == HEALTH_TOKEN
    assert "OUTSIDE_SECRET" not in os.environ and "PATH" in os.environ


def test_outside_the_isolated_environ_the_shell_is_seen():
    assert os.environ["OUTSIDE_SECRET"] == "from-the-shell"


def test_a_migrated_database_and_an_app_on_it(database_url, app_env, make_app, rich_health):
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        assert "vault_credentials" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert app_env["DATABASE_URL"] == database_url
    status, payload = rich_health(make_app(app_env))
    assert status == 200 and payload["checks"]["database"]["status"] == "ok"


def test_an_empty_database(empty_database):
    engine = create_engine(sqlalchemy_url(empty_database))
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_kit_app_and_its_client(app, client, rich_health):
    assert client.get("/api/health").get_json() == {"status": "ok"}
    status, payload = rich_health(app)
    assert status == 200 and payload["environment"] == "development"


def test_a_real_sshd(sshd):
    assert sshd.running and sshd.host == "127.0.0.1"
    assert set(sshd.host_public_keys) == {"ed25519", "rsa"}


def test_a_recording_smtp_server(smtp_server, smtp_cert, smtp_ca):
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\\r\\n\\r\\nbody")
    (message,) = smtp_server.messages
    assert message.rcpt_tos == ("b@example.com",) and message.parsed()["Subject"] == "hi"
    assert smtp_ca.ca_file.is_file() and "127.0.0.1" in smtp_cert.names
"""


def test_every_kit_is_a_registered_pytest11_entry_point():
    registered = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert {name: registered.get(name) for name in KITS} == KITS


def test_pytest_startup_imports_no_heavy_library():
    code = textwrap.dedent(
        f"""
        import importlib, sys
        for module in {list(KITS.values())!r}:
            importlib.import_module(module)
        print(",".join(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"loaded at pytest startup: {done.stdout.strip()}"


def test_a_plain_suite_gets_every_kit_fixture(
    pytester: pytest.Pytester, pg_server: str, monkeypatch: pytest.MonkeyPatch
):
    """A suite with no conftest at all, run by a fresh pytest: the fixtures come from the
    installed entry points (PostgreSQL: this session's, through TEST_DATABASE_URL)."""
    monkeypatch.setenv("TEST_DATABASE_URL", pg_server)
    monkeypatch.setenv("OUTSIDE_SECRET", "from-the-shell")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    result.assert_outcomes(passed=7)


def test_kit_fixtures_are_listed_with_their_plugins(pytester: pytest.Pytester):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider", timeout=120)
    text = result.stdout.str()
    for fixture in (
        "isolated_environ",
        "dev_env",
        "strict_env",
        "make_app",
        "app_plugins",
        "app",
        "client",
        "rich_health",
        "pg_server",
        "pg_template",
        "database_url",
        "module_database_url",
        "module_engine",
        "empty_database",
        "app_env",
        "sshd",
        "smtp_ca",
        "smtp_cert",
        "smtp_server",
    ):
        assert f"\n{fixture} " in text or f"\n{fixture} [" in text, fixture
    for module in ("ocore_flask/testing/plugin.py", "ocore_database/testing.py"):
        assert module in text


def test_the_isolated_environment_keeps_state_out_of_home() -> None:
    """The secret-fingerprint key a test creates lands in the session's own state folder."""
    import os

    state = os.environ["XDG_STATE_HOME"]
    assert not state.startswith(os.path.expanduser("~/.local"))
    assert os.path.isdir(state)
