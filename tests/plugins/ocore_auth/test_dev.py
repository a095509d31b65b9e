"""``ocore dev``'s development admin (the ``dev_services`` hook ``ocore_auth.dev.dev_admin``):
created once with a private password file, idempotent, and a printed curl command that really
logs in, without the password ever being shown."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
from pathlib import Path

import pytest

import ocore_auth
import ocore_database
from ocore_auth.dev import DEV_ADMIN, PASSWORD_FILE, dev_admin
from ocore_auth.passwords import password_problem
from ocore_auth.testing import login
from ocore_flask.manager import PluginManager
from ocore_flask.testing import ServerProcess, base_env, free_port, run, script, wait_for

PLUGINS = PluginManager.of([ocore_database.plugin, ocore_auth.plugin])
HINT = f"auth: log in as {DEV_ADMIN} (its password is in "


def run_hook(env: dict[str, str], instance: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Enter and leave the hook as ``ocore dev`` does; what it printed on stderr."""
    with dev_admin(env, instance, PLUGINS) as shared:
        assert shared == {}
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def hint_command(printed: str) -> str:
    """The curl line of the hint."""
    lines = printed.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(HINT))
    command = lines[at + 1].strip()
    assert command.startswith("curl -s -X POST ")
    return command


def test_created_once_with_a_private_password_file(
    users, auth_app, auth_client, auth_env, tmp_path, capsys, caplog
) -> None:
    caplog.set_level(logging.INFO, "ocore_auth")
    instance = tmp_path / "instance"
    env = {**auth_env, "SERVER_PORT": "18080"}
    printed = run_hook(env, instance, capsys)
    path = instance / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text()
    assert password.endswith("\n") and password.count("\n") == 1
    password = password.strip()
    assert password_problem(password) is None and len(password) >= 24
    assert f"{HINT}{path}):" in printed
    command = hint_command(printed)
    assert command.startswith("curl -s -X POST http://127.0.0.1:18080/api/auth/login ")
    assert password not in printed + caplog.text
    assert f"created the development admin {DEV_ADMIN}" in caplog.text

    service = ocore_auth.auth(auth_app)
    (admin,) = service.users.all()
    assert (admin.email, admin.role, admin.disabled) == (DEV_ADMIN, "admin", False)
    response = login(auth_client, DEV_ADMIN, password)
    assert response.status_code == 200, response.get_json()

    caplog.clear()
    again = run_hook(env, instance, capsys)
    assert path.read_text().strip() == password, "the second run keeps the password"
    assert [u.email for u in service.users.all()] == [DEV_ADMIN], "no second admin"
    assert service.users.find(DEV_ADMIN).password_hash == admin.password_hash
    assert hint_command(again) == command and "created" not in caplog.text
    assert password not in again + caplog.text
    assert login(auth_client, DEV_ADMIN, password).status_code == 200


def test_a_lost_password_file_gets_a_new_password_that_works(
    users, auth_client, auth_env, tmp_path, capsys
) -> None:
    instance = tmp_path / "instance"
    run_hook(auth_env, instance, capsys)
    old = (instance / PASSWORD_FILE).read_text().strip()
    (instance / PASSWORD_FILE).unlink()
    printed = run_hook(auth_env, instance, capsys)
    new = (instance / PASSWORD_FILE).read_text().strip()
    assert new != old and new not in printed
    assert login(auth_client, DEV_ADMIN, old).status_code == 401
    assert login(auth_client, DEV_ADMIN, new).status_code == 200


def test_the_hint_builds_valid_json_in_any_instance_folder(
    users, auth_env, tmp_path, capsys
) -> None:
    """Through bash, with curl replaced by a function printing its ``-d`` argument: the body is
    valid JSON with the file's password, even in a folder with spaces and quotes."""
    instance = tmp_path / 'it\'s a "dev" $HOME folder'
    command = hint_command(run_hook(auth_env, instance, capsys))
    fake = 'curl() { while [ "$1" != -d ]; do shift; done; printf %s "$2"; }; '
    done = run(["bash", "-c", fake + command], {"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    password = (instance / PASSWORD_FILE).read_text().strip()
    assert json.loads(done.stdout) == {"email": DEV_ADMIN, "password": password}


def test_a_broken_configuration_is_left_to_the_server_start(users, tmp_path, capsys) -> None:
    printed = run_hook({"ENVIRONMENT": "development"}, tmp_path, capsys)  # no JWT_SECRET, no DB
    assert printed == "" and not (tmp_path / PASSWORD_FILE).exists()


def test_disabled_plugins_do_not_stop_the_dev_admin(users, auth_env, tmp_path, capsys) -> None:
    """``ocore dev`` hands the hook the active plugins only: OCORE_DISABLED_PLUGINS naming
    another one must not make the hook's app "invalid"."""
    printed = run_hook({**auth_env, "OCORE_DISABLED_PLUGINS": "mail"}, tmp_path, capsys)
    assert HINT in printed and (tmp_path / PASSWORD_FILE).exists()


@pytest.mark.slow
def test_ocore_dev_prints_a_login_command_that_works(database_url, tmp_path) -> None:
    """``ocore dev`` end to end (on an existing database, so no embedded PostgreSQL): the hint
    is printed with the port it serves on, and running it exactly as printed logs in."""
    instance = tmp_path / "instance"
    port = free_port()
    env = base_env(
        {
            "OCORE_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"],
            "OCORE_DISABLED_PLUGINS": "mail",  # no mail sink needed; and disabled plugins are fine
        }
    )
    with ServerProcess([script("ocore"), "dev", "--port", str(port)], env, port) as server:
        assert wait_for(lambda: "ocore dev: serving on" in server.output, timeout=10)
        command = hint_command(server.output)
        assert f"http://127.0.0.1:{port}/api/auth/login" in command
        done = run(["bash", "-c", command], {"PATH": "/usr/bin:/bin"}, timeout=30)
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert body["token_type"] == "Bearer" and body["access_token"] and body["refresh_token"]
        password = (instance / PASSWORD_FILE).read_text().strip()
        assert server.stop(signal.SIGINT) == 0
    output = server.output
    assert password not in output and body["access_token"] not in output
    assert body["refresh_token"] not in output and "$argon2" not in output
    assert "Traceback" not in output
