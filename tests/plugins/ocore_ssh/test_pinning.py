"""Pinning policy against a real sshd: a password only to a pinned server in strict modes,
``ssh pin`` without logging in, first use kept in development and for keys, a restart that
finds the pin only in the database, and refusals naming the command as invoked."""

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
from ocore_ssh import ssh
from ocore_ssh.hostkeys import HostKeyChanged, HostKeyNotPinned
from ocore_ssh.testing import Sshd, ed25519_openssh, public_line
from ocore_vault.store import CredentialStore

STRICT = {"ENVIRONMENT": "production", "APP_URL": "https://ocore.example.com"}
# What sshd (LogLevel VERBOSE) logs for a TCP connection and for any password attempt.
CONNECTION = re.compile(r"Connection from 127\.0\.0\.1 port \d+")
PASSWORD_ATTEMPT = re.compile(r"(Accepted|Failed) password|password for", re.IGNORECASE)


def log_of(server: Sshd) -> str:
    return server.log_path.read_text(errors="replace")


def new_lines(server: Sshd, before: str) -> str:
    return log_of(server)[len(before) :]


@pytest.fixture
def strict_cli(monkeypatch, ssh_env: dict[str, str], ssh_plugins: list) -> Callable[..., Result]:
    """``strict_cli("pin", "web1", input="y\\n")``: ``ocore ssh …`` in production."""
    for name, value in {**ssh_env, **STRICT}.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str, input: str | None = None) -> Result:
        info = ScriptInfo(create_app=lambda: create_app(plugins=ssh_plugins))
        return CliRunner().invoke(ocore, ["ssh", *args], obj=info, input=input)

    return invoke


def test_strict_mode_sends_no_password_to_an_unpinned_server(
    ssh_app: Callable[..., Flask], vault: CredentialStore, add_password_server
):
    with Sshd() as server:
        app = ssh_app(**STRICT)
        add_password_server(app, vault, server, "web1")
        before = log_of(server)
        with pytest.raises(HostKeyNotPinned) as caught:
            ssh(app).run("web1", "true")
        message = str(caught.value)
        assert f"server 'web1' (127.0.0.1:{server.port}) has no pinned host key" in message
        assert "`ocore ssh pin web1`" in message and "--host-key" in message
        # Refused before connecting: the daemon saw no connection, so no password either.
        seen = new_lines(server, before)
        assert not CONNECTION.search(seen) and not PASSWORD_ATTEMPT.search(seen), seen
        assert ssh(app).servers.get("web1").host_key is None
        assert server.password not in message


def test_strict_mode_with_a_pinned_key_or_a_key_credential_connects(
    ssh_app: Callable[..., Flask], vault: CredentialStore, add_password_server, sshd: Sshd
):
    app = ssh_app(**STRICT)
    vault.put("pw", "password", sshd.password, username=sshd.user)
    ssh(app).add(
        "pinned", sshd.host, port=sshd.port, credential="pw",
        host_key=sshd.host_public_keys["ed25519"],
    )  # fmt: skip
    assert ssh(app).run("pinned", "echo ok").stdout == "ok\n"
    # A key proves nothing an impostor can reuse: first-use pinning stays for keys.
    key = ed25519_openssh()
    sshd.authorize(public_line(key))
    vault.put("key", "private_key", key, username=sshd.user)
    ssh(app).add("bykey", sshd.host, port=sshd.port, credential="key")
    assert ssh(app).run("bykey", "echo ok").stdout == "ok\n"
    assert ssh(app).servers.get("bykey").host_key == sshd.host_public_keys["ed25519"]


def test_development_keeps_first_use_pinning_for_passwords(
    ssh_app: Callable[..., Flask], vault: CredentialStore, add_password_server, sshd: Sshd
):
    app = ssh_app()
    add_password_server(app, vault, sshd, "web1")
    assert ssh(app).run("web1", "echo ok").stdout == "ok\n"
    assert ssh(app).servers.get("web1").host_key == sshd.host_public_keys["ed25519"]


def test_ssh_pin_pins_the_presented_key_without_logging_in(
    strict_cli: Callable[..., Result], vault: CredentialStore
):
    with Sshd() as server:
        vault.put("pw", "password", server.password, username=server.user)
        added = strict_cli("add", "web1", server.host, "--port", str(server.port),
                           "--credential", "pw")  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "`ocore ssh pin web1` pins it (needed before a password is sent)" in added.stdout
        refused = strict_cli("run", "web1", "--", "true")
        assert refused.exit_code == 255 and "has no pinned host key" in refused.stderr

        before = log_of(server)
        declined = strict_cli("pin", "web1", input="n\n")
        assert declined.exit_code == 1
        shown = server.host_key_fingerprints["ed25519"]
        assert f"presents ssh-ed25519 {shown}" in declined.stderr
        assert "not pinned" in declined.stderr
        unconfirmed = strict_cli("pin", "web1", "--json")
        assert unconfirmed.exit_code == 1 and "add --yes" in unconfirmed.stderr

        pinned = strict_cli("pin", "web1", input="y\n")
        assert pinned.exit_code == 0, pinned.output
        assert pinned.stdout == f"Pinned the host key of web1: ssh-ed25519 {shown}\n"
        seen = new_lines(server, before)
        assert len(CONNECTION.findall(seen)) == 3, seen  # declined, --json, confirmed
        assert not PASSWORD_ATTEMPT.search(seen) and "Accepted" not in seen, seen

        again = json.loads(strict_cli("pin", "web1", "--json").stdout)
        assert again == {
            "server": "web1",
            "host_key": server.host_public_keys["ed25519"],
            "host_key_fingerprint": shown,
            "pinned_now": False,
        }
        assert strict_cli("run", "web1", "--", "echo", "ok").stdout == "ok\n"

        server.rotate_host_keys()
        changed = strict_cli("pin", "web1", "--yes")
        assert changed.exit_code == 1 and "has changed" in changed.stderr
        assert "`ocore ssh forget-host-key web1`" in changed.stderr
        assert strict_cli("forget-host-key", "web1").exit_code == 0
        repinned = json.loads(strict_cli("pin", "web1", "--yes", "--json").stdout)
        assert repinned["pinned_now"] is True
        assert repinned["host_key"] == server.host_public_keys["ed25519"]


def test_a_restarted_process_refuses_a_changed_key_pinned_only_in_the_database(
    ssh_app: Callable[..., Flask], ssh_env: dict[str, str], vault: CredentialStore,
    add_password_server,
):  # fmt: skip
    with Sshd() as server:
        first = ssh_app()
        add_password_server(first, vault, server, "web1")
        assert ssh(first).run("web1", "true").ok  # pins on first use
        pinned = ssh(first).servers.get("web1").host_key
        assert pinned == server.host_public_keys["ed25519"]
        server.rotate_host_keys()
        # A fresh app in this process: new service and pool, the pin only in the database.
        with pytest.raises(HostKeyChanged, match="has changed"):
            ssh(ssh_app()).run("web1", "true")
        # A new process (a restart): the real command refuses too, and the pin stays.
        done = run([script("ocore"), "ssh", "run", "web1", "--", "true"], base_env(ssh_env))
        assert done.returncode == 255, done.stderr
        assert "has changed" in done.stderr and "`ocore ssh forget-host-key web1`" in done.stderr
        assert ssh(ssh_app()).servers.get("web1").host_key == pinned


def test_refusals_name_the_command_as_invoked(
    ssh_env: dict[str, str], vault: CredentialStore, sshd: Sshd
):
    vault.put("pw", "password", sshd.password, username=sshd.user)
    env = base_env({**ssh_env, **STRICT})
    add = run([script("ocore"), "ssh", "add", "web1", sshd.host, "--port", str(sshd.port),
               "--credential", "pw"], env)  # fmt: skip
    assert add.returncode == 0, add.stderr
    as_ocore = run([script("ocore"), "ssh", "run", "web1", "--", "true"], env)
    assert as_ocore.returncode == 255
    assert "`ocore ssh pin web1`" in as_ocore.stderr and "flask ocore" not in as_ocore.stderr
    as_flask = run([script("flask"), "ocore", "ssh", "run", "web1", "--", "true"], env)
    assert as_flask.returncode == 255, as_flask.stderr
    assert "`flask ocore ssh pin web1`" in as_flask.stderr
    ghost = run([script("flask"), "ocore", "ssh", "check", "ghost"], env)
    assert "`flask ocore ssh list` shows the servers" in ghost.stderr
