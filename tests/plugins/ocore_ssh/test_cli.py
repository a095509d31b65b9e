"""``ocore ssh``: add, list, check (pin on first use), run, forget-host-key; one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_flask.testing import base_env, run, script
from ocore_ssh.testing import Sshd
from ocore_vault.store import CredentialStore

Invoke = Callable[..., Result]
STEPS = [
    ("connect", "TCP, SSH handshake, authentication"),
    ("first", "`true`; the server starts the session"),
    ("again", "`true` on the open connection"),
]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, ssh_env: dict[str, str], ssh_plugins: list) -> Invoke:
    """``cli("list")``: run ``ocore ssh …`` in-process with the SSH app's environment."""
    for name, value in ssh_env.items():
        monkeypatch.setenv(name, value)

    def factory() -> Flask:
        """The app as ``flask --app`` would load it: from os.environ, database + vault + ssh."""
        return create_app(plugins=ssh_plugins)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(ocore, ["ssh", *args], obj=ScriptInfo(create_app=factory))

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


def test_add_list_and_remove(cli: Invoke, vault: CredentialStore, sshd: Sshd):
    vault.put("web-pw", "password", sshd.password, username=sshd.user)
    added = cli("add", "web1", sshd.host, "--port", str(sshd.port), "--credential", "web-pw")
    assert added.exit_code == 0, added.output
    login = f"{sshd.user}@{sshd.host}:{sshd.port}"
    assert added.stdout.splitlines() == [
        f"Added server web1: {login} with credential web-pw",
        "Host key not pinned yet: `ocore ssh check web1` pins it.",
    ]
    key = sshd.host_public_keys["ed25519"]
    pinned = cli("add", "db1", "LOCALHOST", "--user", "root", "--credential", "web-pw",
                 "--host-key", f"localhost {key}")  # fmt: skip
    assert pinned.exit_code == 0, pinned.output
    printed = sshd.host_key_fingerprints["ed25519"]
    assert f"Host key pinned: ssh-ed25519 {printed}" in pinned.stdout

    table = cli("list")
    assert table.exit_code == 0
    header, db1, web1 = table.stdout.splitlines()
    assert header.split() == ["NAME", "LOGIN", "CREDENTIAL", "HOST", "KEY", "LAST", "CHECK"]
    assert db1.split() == ["db1", "root@localhost:22", "web-pw", "ssh-ed25519", printed, "never"]
    assert web1.split()[:3] == ["web1", login, "web-pw"]
    assert web1.split()[-3:] == ["not", "pinned", "never"]  # no check ran (ssh.check_servers)
    listed = json.loads(cli("list", "--json").stdout)
    assert [s["name"] for s in listed] == ["db1", "web1"]
    assert listed[0]["host_key"] == key and listed[1]["host_key_fingerprint"] is None

    assert cli("remove", "db1").stdout == "Removed server db1.\n"
    assert_one_line_error(cli("remove", "db1"), 1, "no server named 'db1'")
    assert [s["name"] for s in json.loads(cli("list", "--json").stdout)] == ["web1"]


def test_add_refuses_bad_input_with_one_line(cli: Invoke, vault: CredentialStore, sshd: Sshd):
    vault.put("web-pw", "password", sshd.password, username=sshd.user)
    vault.put("anon", "password", sshd.password)
    assert cli("add", "web1", sshd.host, "--credential", "web-pw").exit_code == 0
    assert_one_line_error(
        cli("add", "web1", sshd.host, "--credential", "web-pw"), 1, "'web1' already exists"
    )
    assert_one_line_error(
        cli("add", "web2", sshd.host, "--credential", "ghost"),
        1,
        "no credential named 'ghost' in the vault",
    )
    assert_one_line_error(
        cli("add", "web2", sshd.host, "--credential", "anon"), 1, "give one with --user"
    )
    assert_one_line_error(
        cli("add", "web 2", sshd.host, "--credential", "web-pw"), 1, "server name is 1-64"
    )
    assert_one_line_error(
        cli("add", "web2", "ssh://x", "--credential", "web-pw"), 1, "host name or IP address"
    )
    assert_one_line_error(
        cli("add", "web2", sshd.host, "--credential", "web-pw", "--host-key", "nope"),
        1,
        "not a usable host key",
    )
    assert cli("add", "web2", sshd.host, "--port", "0", "--credential", "web-pw").exit_code == 2
    assert cli("add", "web2", sshd.host).exit_code == 2  # --credential is required
    assert sshd.password not in cli("list", "--json").output


def test_check_pins_refuses_a_changed_key_and_re_pins_after_forget(
    cli: Invoke, vault: CredentialStore
):
    with Sshd() as server:
        vault.put("pw", "password", server.password, username=server.user)
        added = cli("add", "web1", server.host, "--port", str(server.port), "--credential", "pw")
        assert added.exit_code == 0, added.output
        first = cli("check", "web1")
        assert first.exit_code == 0, first.output
        lines = first.stdout.splitlines()
        assert lines[0] == f"web1 ({server.user}@{server.host}:{server.port}): OK"
        for line, (step, note) in zip(lines[1:4], STEPS, strict=True):
            assert re.fullmatch(rf"  {step} +\d+\.\d ms +\({re.escape(note)}\)", line), line
        old = server.host_key_fingerprints["ed25519"]
        assert lines[4] == (
            f"  host key  ssh-ed25519 {old} (pinned now: first use; compare the fingerprint "
            "with the server's out of band)"
        )
        again = cli("check", "web1")
        assert again.stdout.splitlines()[4].endswith("(matches the pinned key)")

        server.rotate_host_keys()
        new = server.host_key_fingerprints["ed25519"]
        refused = assert_one_line_error(
            cli("check", "web1"), 1, "has changed", old, new, "forget-host-key web1"
        )
        assert "Refusing to connect" in refused
        assert_one_line_error(cli("run", "web1", "--", "true"), 255, "has changed")

        forgot = cli("forget-host-key", "web1")
        assert forgot.exit_code == 0
        assert forgot.stdout.startswith(f"Forgot the host key pinned for web1 (ssh-ed25519 {old})")
        nothing = cli("forget-host-key", "web1")
        assert nothing.stdout == "No host key is pinned for web1; the next connection pins one.\n"
        repinned = cli("check", "web1")
        assert repinned.exit_code == 0, repinned.output
        assert f"ssh-ed25519 {new} (pinned now" in repinned.stdout


def test_run_prints_output_and_returns_the_remote_status(
    cli: Invoke, vault: CredentialStore, sshd: Sshd, protected_key: str, ssh_secrets
):
    vault.put(
        "key", "private_key", protected_key, username=sshd.user, passphrase=ssh_secrets.passphrase
    )
    added = cli("add", "web1", sshd.host, "--port", str(sshd.port), "--credential", "key")
    assert added.exit_code == 0, added.output
    ok = cli("run", "web1", "--", "echo", "hi;", "id", "-un")
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, f"hi\n{sshd.user}\n", "")
    failed = cli("run", "web1", "--", "echo out; echo err >&2; exit 7")
    assert (failed.exit_code, failed.stdout, failed.stderr) == (7, "out\n", "err\n")
    timed = cli("run", "--timeout", "500ms", "web1", "--", "echo started; sleep 600")
    assert timed.exit_code == 124
    assert timed.stdout == "started\n"
    assert "error: command on server 'web1' exceeded its 0.5s timeout" in timed.stderr
    assert cli("run", "--timeout", "soon", "web1", "--", "true").exit_code == 2
    assert protected_key.splitlines()[1] not in timed.output + ok.output


def test_run_and_check_errors_are_one_line_without_secrets(
    cli: Invoke, vault: CredentialStore, sshd: Sshd, ssh_secrets
):
    assert_one_line_error(cli("run", "ghost", "--", "true"), 255, "no server named 'ghost'")
    assert_one_line_error(cli("check", "ghost"), 1, "no server named 'ghost'")
    assert_one_line_error(cli("forget-host-key", "ghost"), 1, "no server named 'ghost'")

    vault.put("bad", "password", ssh_secrets.wrong_password, username=sshd.user)
    cli("add", "badpw", sshd.host, "--port", str(sshd.port), "--credential", "bad")
    for result, code in ((cli("check", "badpw"), 1), (cli("run", "badpw", "--", "true"), 255)):
        line = assert_one_line_error(result, code, "authentication failed for server 'badpw'")
        assert ssh_secrets.wrong_password not in result.output and ssh_secrets.vault_key not in line

    closed = Sshd()  # a free port nobody listens on
    closed.cleanup()
    cli("add", "down", closed.host, "--port", str(closed.port), "--credential", "bad")
    assert_one_line_error(cli("check", "down"), 1, "cannot connect to server 'down'")

    assert_one_line_error(cli("run", "down", "--", "true"), 255, "cannot connect to server 'down'")
    line = assert_one_line_error(cli("add", "x", "h", "--credential", "no-such"), 1, "no-such")
    assert "no credential named 'no-such' in the vault" in line


def test_the_real_ocore_command(ssh_env: dict[str, str], vault: CredentialStore, sshd: Sshd):
    vault.put("pw", "password", sshd.password, username=sshd.user)
    env = base_env(ssh_env)
    add = run([script("ocore"), "ssh", "add", "web1", sshd.host, "--port", str(sshd.port),
               "--credential", "pw"], env)  # fmt: skip
    assert add.returncode == 0, add.stderr
    done = run([script("ocore"), "ssh", "run", "web1", "--", "echo", "hi"], env)
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    assert sshd.password not in done.stdout + done.stderr


def test_json_add_check_run_forget_and_remove(cli: Invoke, vault: CredentialStore, sshd: Sshd):
    vault.put("web-pw", "password", sshd.password, username=sshd.user)
    added = cli("add", "web1", sshd.host, "--port", str(sshd.port), "--credential", "web-pw",
                "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    result = json.loads(added.stdout)
    login = f"{sshd.user}@{sshd.host}:{sshd.port}"
    assert (result["added"], result["login"], result["server"]["credential"]) == (
        "web1",
        login,
        "web-pw",
    )
    assert result["server"]["host_key"] is None

    checked = json.loads(cli("check", "web1", "--json").stdout)
    assert checked["server"] == "web1" and checked["login"] == login and checked["ok"] is True
    assert checked["pinned_now"] is True
    assert checked["host_key_fingerprint"] == sshd.host_key_fingerprints["ed25519"]
    assert all(checked[k] > 0 for k in ("connect_ms", "first_ms", "reuse_ms"))

    ran = cli("run", "--json", "web1", "--", "echo out; echo err >&2; exit 7")
    assert ran.exit_code == 7 and ran.stderr == ""
    output = json.loads(ran.stdout)
    assert output["server"] == "web1" and output["command"] == "echo out; echo err >&2; exit 7"
    assert (output["exit_status"], output["stdout"], output["stderr"]) == (7, "out\n", "err\n")
    assert output["timed_out"] is False and output["duration_ms"] > 0

    timed = cli("run", "--json", "--timeout", "500ms", "web1", "--", "echo started; sleep 600")
    assert timed.exit_code == 124
    partial = json.loads(timed.stdout)
    assert partial["timed_out"] is True and partial["exit_status"] is None
    assert partial["stdout"] == "started\n"
    (line,) = timed.stderr.splitlines()  # the error stays one line on stderr under --json
    assert line.startswith("error: command on server 'web1' exceeded its 0.5s timeout")

    forgot = json.loads(cli("forget-host-key", "web1", "--json").stdout)
    assert forgot["server"] == "web1" and forgot["forgotten"].startswith("ssh-ed25519 ")
    assert forgot["fingerprint"] == sshd.host_key_fingerprints["ed25519"]
    again = json.loads(cli("forget-host-key", "web1", "--json").stdout)
    assert again == {"server": "web1", "forgotten": None, "fingerprint": None}

    assert json.loads(cli("remove", "web1", "--json").stdout) == {"removed": "web1"}
    assert_one_line_error(cli("remove", "web1", "--json"), 1, "no server named 'web1'")
    assert_one_line_error(cli("run", "--json", "web1", "--", "true"), 255, "no server named")
    assert sshd.password not in "".join(r.output for r in (added, ran, timed))


def test_a_configured_secret_in_an_error_message_is_masked(
    cli: Invoke, vault: CredentialStore, ssh_secrets
):
    planted = cli("add", "web1", "h", "--credential", ssh_secrets.vault_key, "--json")
    line = assert_one_line_error(planted, 1, "no credential named '***'")
    assert ssh_secrets.vault_key not in planted.output and line.count("error:") == 1
