"""``ocore users``: add (password from stdin or a hidden prompt asked twice on a terminal),
list, passwd, disable/enable, role, revoke; each with ``--json``; one-line errors; never a
password or a hash in any output. Users created here log in through the API."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

import ocore_auth
import ocore_database
from ocore_auth.cli import users_group
from ocore_auth.passwords import RULE
from ocore_auth.testing import TEST_PASSWORD, login
from ocore_flask import create_app
from ocore_flask.testing import base_env, run, script

PASSWORD = "cli-Password-7Rt2"  # recognisable when grepping output
NEW_PASSWORD = "cli-NewPassword-9Wq4"
EMAIL = "ops@example.com"
SECRETS = (PASSWORD, NEW_PASSWORD, TEST_PASSWORD, "$argon2")
PUBLIC_KEYS = {"id", "email", "role", "disabled", "created_at", "last_login_at"}

Invoke = Callable[..., Result]


def assert_no_secret(output: str) -> None:
    """Neither a password of this module nor an Argon2 hash appears in ``output``."""
    for secret in SECRETS:
        assert secret not in output, f"{secret[:8]}… leaked:\n{output}"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, auth_env: dict[str, str], users) -> Invoke:
    """``cli("list", "--json", stdin=...)``: ``ocore users …`` in-process, on ``auth_app``'s
    database (emptied by ``users``), every output checked for secrets."""
    for name, value in auth_env.items():
        monkeypatch.setenv(name, value)

    def factory() -> Flask:
        """The app as ``flask --app`` would load it: from os.environ, database + auth."""
        return create_app(plugins=[ocore_database.plugin, ocore_auth.plugin])

    def invoke(*args: str, stdin: str | None = None) -> Result:
        result = CliRunner().invoke(
            users_group,
            list(args),
            input=stdin,
            obj=ScriptInfo(create_app=factory),
            prog_name="ocore users",
        )
        assert_no_secret(result.output)
        return result

    return invoke


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def add(cli: Invoke, email: str = EMAIL, role: str = "operator", *extra: str) -> Result:
    result = cli("add", email, "--role", role, *extra, stdin=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return result


def test_add_reads_one_line_of_stdin_and_the_user_logs_in(cli: Invoke, auth_client) -> None:
    added = add(cli)
    assert added.stdout == f"Added {EMAIL} (operator, enabled). Log in with POST /api/auth/login.\n"
    response = login(auth_client, EMAIL, PASSWORD)
    assert response.status_code == 200, response.get_json()
    me = auth_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )
    assert (me.get_json()["email"], me.get_json()["role"]) == (EMAIL, "operator")
    assert login(auth_client, EMAIL, PASSWORD + "x").status_code == 401


def test_add_json_and_a_crlf_line(cli: Invoke, auth_client) -> None:
    result = cli("add", " Admin@Example.com ", "--role", "admin", "--json", stdin=f"{PASSWORD}\r\n")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    body = json.loads(result.stdout)
    assert set(body) == {"added", "user"} and body["added"] == "Admin@Example.com"
    user = body["user"]
    assert set(user) == PUBLIC_KEYS
    assert (user["email"], user["role"], user["disabled"], user["last_login_at"]) == (
        "Admin@Example.com",
        "admin",
        False,
        None,
    )
    assert isinstance(user["id"], int) and user["created_at"]
    assert login(auth_client, "admin@example.com", PASSWORD).status_code == 200


def test_list_text_and_json(cli: Invoke, auth_client) -> None:
    empty = cli("list")
    assert empty.exit_code == 0
    assert (
        empty.stdout == "No users. Create the first admin: `ocore users add EMAIL --role admin`\n"
    )
    assert json.loads(cli("list", "--json").stdout) == []

    add(cli, "zed@example.com", "viewer")
    add(cli, "Amy@example.com", "admin")
    login(auth_client, "amy@example.com", PASSWORD)
    cli("disable", "zed@example.com")
    listed = cli("list")
    assert listed.exit_code == 0
    header, amy, zed = listed.stdout.splitlines()
    assert header.split() == ["EMAIL", "ROLE", "STATE", "LAST", "LOGIN"]
    assert amy.split()[:3] == ["Amy@example.com", "admin", "enabled"]
    assert amy.split()[3] != "never"
    assert zed.split() == ["zed@example.com", "viewer", "disabled", "never"]
    rows = json.loads(cli("list", "--json").stdout)
    assert [(r["email"], r["role"], r["disabled"]) for r in rows] == [
        ("Amy@example.com", "admin", False),
        ("zed@example.com", "viewer", True),
    ]
    assert all(set(r) == PUBLIC_KEYS for r in rows)
    assert rows[0]["last_login_at"] and rows[1]["last_login_at"] is None


def test_passwd_sets_a_new_password_and_ends_every_session(cli: Invoke, auth_client) -> None:
    add(cli)
    tokens = login(auth_client, EMAIL, PASSWORD).get_json()
    changed = cli("passwd", EMAIL, stdin=f"{NEW_PASSWORD}\n")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == f"Password changed: {EMAIL} (operator, enabled)\n"
    assert login(auth_client, EMAIL, PASSWORD).status_code == 401
    assert login(auth_client, EMAIL, NEW_PASSWORD).status_code == 200
    refreshed = auth_client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401

    body = json.loads(cli("passwd", EMAIL.upper(), "--json", stdin=f"{PASSWORD}\n").stdout)
    assert body["password_changed"] == EMAIL and set(body["user"]) == PUBLIC_KEYS
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200


def test_disable_and_enable(cli: Invoke, auth_app, auth_client) -> None:
    add(cli)
    tokens = login(auth_client, EMAIL, PASSWORD).get_json()
    disabled = cli("disable", EMAIL)
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout == f"Disabled: {EMAIL} (operator, disabled)\n"
    refused = login(auth_client, EMAIL, PASSWORD)
    assert refused.status_code == 401
    assert refused.get_json()["message"] == "this account is disabled"
    ocore_auth.auth(auth_app).forget()  # what AUTH_USER_CACHE_TTL does in time
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert auth_client.get("/api/auth/me", headers=headers).status_code == 401

    enabled = cli("enable", EMAIL, "--json")
    assert enabled.exit_code == 0, enabled.output
    body = json.loads(enabled.stdout)
    assert body["enabled"] == EMAIL and body["user"]["disabled"] is False
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200
    body = json.loads(cli("disable", EMAIL, "--json").stdout)
    assert body["disabled"] == EMAIL and body["user"]["disabled"] is True


def test_role_changes_what_the_token_carries(cli: Invoke, auth_app, auth_client) -> None:
    add(cli, role="viewer")
    token = login(auth_client, EMAIL, PASSWORD).get_json()["access_token"]
    changed = cli("role", EMAIL, "admin")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == f"Role changed: {EMAIL} (admin, enabled)\n"
    ocore_auth.auth(auth_app).forget()
    me = auth_client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["role"] == "admin"
    body = json.loads(cli("role", EMAIL, "operator", "--json").stdout)
    assert body["role_changed"] == EMAIL and body["user"]["role"] == "operator"

    bad = cli("role", EMAIL, "root")
    assert bad.exit_code == 2 and "Invalid value for 'ROLE'" in bad.stderr
    assert "'viewer', 'operator', 'admin'" in bad.stderr and "Traceback" not in bad.output


def test_revoke_ends_every_session(cli: Invoke, auth_app, auth_client) -> None:
    add(cli)
    first = login(auth_client, EMAIL, PASSWORD).get_json()
    second = login(auth_client, EMAIL, PASSWORD).get_json()
    revoked = cli("revoke", EMAIL)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"Sessions revoked: {EMAIL} (operator, enabled)\n"
    for tokens in (first, second):
        refresh = {"refresh_token": tokens["refresh_token"]}
        assert auth_client.post("/api/auth/refresh", json=refresh).status_code == 401
    ocore_auth.auth(auth_app).forget()
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert auth_client.get("/api/auth/me", headers=headers).status_code == 401
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200  # a new session is fine

    body = json.loads(cli("revoke", EMAIL, "--json").stdout)
    assert body["sessions_revoked"] == EMAIL and set(body["user"]) == PUBLIC_KEYS


def test_a_taken_address_in_any_case_is_refused_before_the_password(cli: Invoke) -> None:
    add(cli)
    for args in (("OPS@Example.COM",), (f"  {EMAIL}", "--json")):
        result = cli("add", *args, "--role", "admin", stdin=f"{NEW_PASSWORD}\n")
        assert_one_line_error(result, 1, f"a user with the address {EMAIL} already exists")
    rows = json.loads(cli("list", "--json").stdout)
    assert [(r["email"], r["role"]) for r in rows] == [(EMAIL, "operator")]


def test_a_bad_role_or_address_is_refused(cli: Invoke) -> None:
    for args in (("--role", "root"), ("--role", "Admin"), ()):
        result = cli("add", EMAIL, *args, stdin=f"{PASSWORD}\n")
        assert result.exit_code == 2, result.output
        assert "--role" in result.stderr and "Traceback" not in result.output
    assert_one_line_error(
        cli("add", "ops-at-example.com", "--role", "viewer", stdin=f"{PASSWORD}\n"),
        1,
        "not an e-mail address",
    )
    assert json.loads(cli("list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("abc1", "too short"),
        ("abcdefghij", "needs a letter and a digit"),
        ("1234567890", "needs a letter and a digit"),
        ("a1" * 513, "too long"),
        ("a1" * 2000, "too long"),
    ],
)
def test_a_password_breaking_the_rule_names_the_rule(cli: Invoke, password: str, why: str):
    for args in (("add", EMAIL, "--role", "viewer"), ("add", EMAIL, "--role", "viewer", "--json")):
        result = cli(*args, stdin=f"{password}\n")
        line = assert_one_line_error(result, 1, why, RULE)
        assert password not in line
    add(cli)
    result = cli("passwd", EMAIL, stdin=f"{password}\n")
    assert_one_line_error(result, 1, why, RULE)
    assert json.loads(cli("list", "--json").stdout)[0]["email"] == EMAIL


def test_the_longest_password_allowed_works(cli: Invoke, auth_client) -> None:
    longest = "b2" * 512
    assert cli("add", EMAIL, "--role", "viewer", stdin=f"{longest}\n").exit_code == 0
    assert login(auth_client, EMAIL, longest).status_code == 200


def test_no_password_on_stdin_is_one_clear_line(cli: Invoke) -> None:
    for stdin in (None, "", "\n"):
        result = cli("add", EMAIL, "--role", "viewer", stdin=stdin)
        assert_one_line_error(result, 1, "no password on standard input")
    assert json.loads(cli("list", "--json").stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        ("passwd", "ghost@example.com"),
        ("disable", "ghost@example.com"),
        ("enable", "ghost@example.com", "--json"),
        ("role", "ghost@example.com", "admin"),
        ("revoke", "ghost@example.com"),
        ("revoke", "ghost@example.com", "--json"),
    ],
)
def test_an_unknown_user_is_one_clear_line(cli: Invoke, args: tuple[str, ...]) -> None:
    result = cli(*args, stdin=f"{PASSWORD}\n")
    assert_one_line_error(result, 1, "no user has the address ghost@example.com")


# -- the real console script: stdin, and a terminal ------------------------------------------


@pytest.fixture
def shell_env(auth_env: dict[str, str], users) -> dict[str, str]:
    """The environment of a shell running ``ocore`` against ``auth_app``'s (emptied) database;
    the session's own XDG_STATE_HOME, so nothing is written in the developer's home."""
    return base_env({**auth_env, "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]})


def test_the_ocore_script_reads_the_password_from_a_pipe(shell_env, auth_client) -> None:
    added = run([script("ocore"), "users", "add", EMAIL, "--role", "admin", "--json"], shell_env,
                stdin=f"{PASSWORD}\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert_no_secret(added.stdout + added.stderr)
    assert json.loads(added.stdout)["user"]["role"] == "admin"
    again = run([script("ocore"), "users", "add", EMAIL.upper(), "--role", "admin"], shell_env,
                stdin=f"{PASSWORD}\n")  # fmt: skip
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr == f"error: a user with the address {EMAIL} already exists\n"
    listed = run([script("ocore"), "users", "list"], shell_env)
    assert listed.returncode == 0 and EMAIL in listed.stdout and "admin" in listed.stdout
    assert_no_secret(listed.stdout + listed.stderr)
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200


def on_terminal(
    argv: list[str], env: dict[str, str], answers: list[str], stdout: int | None = None
) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal (stdin, stderr and, unless
    ``stdout`` names another file descriptor, stdout), typing each answer after the next prompt
    (output ending in ':'); its exit status and everything the terminal showed."""
    master, slave = os.openpty()
    # os.login_tty: a new session whose controlling terminal is the pty, like a login shell's.
    launcher = (
        "import os, sys; os.login_tty(0); out = int(sys.argv[1]); "
        "out < 0 or os.dup2(out, 1); os.execv(sys.argv[2], sys.argv[2:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, str(-1 if stdout is None else stdout), *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        pass_fds=() if stdout is None else (stdout,),
    )
    os.close(slave)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if pending and shown.rstrip(b" ").endswith(b":"):
                    os.write(master, pending.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return status, shown.decode("utf-8", "replace")


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(shell_env, auth_client) -> None:
    status, shown = on_terminal(
        [script("ocore"), "users", "add", EMAIL, "--role", "operator"],
        shell_env,
        [PASSWORD, NEW_PASSWORD, PASSWORD, PASSWORD],  # a mismatch first: asked again
    )
    assert status == 0, shown
    assert shown.count(f"Password ({RULE}):") == 2
    assert shown.count("Repeat for confirmation:") == 2
    assert "The two entered values do not match" in shown
    assert f"Added {EMAIL} (operator, enabled)" in shown
    assert_no_secret(shown)  # hidden input: the terminal never showed what was typed
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200

    status, shown = on_terminal(
        [script("ocore"), "users", "passwd", EMAIL], shell_env, ["short1", "short1"]
    )
    assert status == 1, shown
    assert f"error: the password is too short: {RULE}" in shown and "Traceback" not in shown
    assert "short1" not in shown


def test_on_a_terminal_json_on_stdout_stays_one_document(shell_env, auth_client, tmp_path):
    """``ocore users add … --json > user.json`` on a terminal: the prompts show on the terminal,
    the file holds exactly the JSON document."""
    with open(tmp_path / "user.json", "w+b") as out:
        status, shown = on_terminal(
            [script("ocore"), "users", "add", EMAIL, "--role", "admin", "--json"],
            shell_env,
            [PASSWORD, PASSWORD],
            stdout=out.fileno(),
        )
        out.seek(0)
        document = out.read().decode()
    assert status == 0, shown
    assert f"Password ({RULE}):" in shown and "Repeat for confirmation:" in shown
    body = json.loads(document)
    assert body["added"] == EMAIL and body["user"]["role"] == "admin"
    assert_no_secret(shown + document)
    assert login(auth_client, EMAIL, PASSWORD).status_code == 200
