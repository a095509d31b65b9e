"""The ssh plugin in an app: pool from settings, vault credentials, pinning, errors, close."""

from __future__ import annotations

import os
import threading
import time

import pytest
from flask import Flask

import ocore_database
import ocore_ssh
import ocore_vault
from ocore_flask import close_app, create_app
from ocore_flask.config import settings_of
from ocore_flask.discovery import load_plugins
from ocore_flask.state import get_state
from ocore_flask.testing import wait_for
from ocore_ssh import ssh
from ocore_ssh.hostkeys import HostKeyChanged
from ocore_ssh.pool import AuthFailed, CommandTimeout, KeyAuth, PoolExhausted, SSHConnectError
from ocore_ssh.servers import CredentialUnusable, InvalidServer, ServerNotFound, ServerStore
from ocore_ssh.service import SSHService
from ocore_ssh.testing import Sshd
from ocore_vault import credentials
from ocore_vault.store import CredentialStore


def open_fds() -> int:
    """File descriptors this process has open (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


def thread_names() -> list[str]:
    """Names of the live threads, for leak messages."""
    return sorted(t.name for t in threading.enumerate())


def test_contract():
    plugin = ocore_ssh.plugin
    assert plugin.name == "ssh" and plugin.requires == ("database", "vault")
    found = load_plugins({}, [plugin, ocore_vault.plugin, ocore_database.plugin])
    assert found.problems == []
    assert (found.call(plugin, "migrations") / "0001_servers.py").is_file()
    assert [s.name for s in settings_of(plugin.settings)][0] == "SSH_POOL_MAX_PER_HOST"
    assert [c.name for c in found.call(plugin, "health_contributors")] == ["ssh_pool"]
    assert [c.name for c in found.call(plugin, "cli_commands")] == ["ssh"]


def test_init_app_builds_the_pool_from_the_settings(ssh_app):
    app = ssh_app(
        SSH_POOL_MAX_PER_HOST="3",
        SSH_POOL_IDLE_TIMEOUT="90s",
        SSH_CONNECT_TIMEOUT="4s",
        SSH_COMMAND_TIMEOUT="2m",
        SSH_KEEPALIVE="0",
        SSH_POOL_ACQUIRE_TIMEOUT="1500ms",
    )
    order = [p.name for p in get_state(app).plugins.active]
    assert order.index("database") < order.index("vault") < order.index("ssh")
    pool = ssh(app).pool
    assert (pool.max_per_host, pool.idle_timeout, pool.connect_timeout) == (3, 90.0, 4.0)
    assert (pool.command_timeout, pool.keepalive, pool.acquire_timeout) == (120.0, 0, 1.5)
    assert pool.stats()["open"] == 0  # nothing is opened at startup


def test_password_credential_from_the_vault(ssh_app, sshd: Sshd, add_password_server):
    app = ssh_app()
    add_password_server(app, credentials(app), sshd)
    result = ssh(app).run("web1", "id -un; echo oops >&2; exit 3")
    assert (result.exit_status, result.stdout, result.stderr) == (3, f"{sshd.user}\n", "oops\n")


def test_private_key_credentials_from_the_vault(
    ssh_app, sshd: Sshd, client_key, protected_key, ssh_secrets
):
    app = ssh_app()
    service, vault = ssh(app), credentials(app)
    vault.put("plain-key", "private_key", client_key, username=sshd.user)
    vault.put("locked-key", "private_key", protected_key, passphrase=ssh_secrets.passphrase)
    service.add("k1", sshd.host, port=sshd.port, credential="plain-key")
    service.add("k2", sshd.host, port=sshd.port, credential="locked-key", username=sshd.user)
    assert isinstance(service.target("k2").auth, KeyAuth)
    assert service.run("k1", "echo k1").stdout == "k1\n"
    assert service.run("k2", "echo k2").stdout == "k2\n"


def test_one_connection_serves_many_commands(ssh_app, sshd: Sshd, add_password_server):
    app = ssh_app()
    add_password_server(app, credentials(app), sshd)
    service = ssh(app)
    for i in range(15):
        assert service.run("web1", f"echo {i}").stdout == f"{i}\n"
    assert service.pool.stats()["servers"]["web1"]["open"] == 1
    assert sshd.established_connections() == 1


def test_the_cap_holds_under_concurrent_callers(ssh_app, sshd: Sshd, add_password_server):
    app = ssh_app(SSH_POOL_MAX_PER_HOST="2")
    add_password_server(app, credentials(app), sshd)
    service = ssh(app)
    seen: list[int] = []
    statuses: list[int] = []

    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            statuses.append(service.run("web1", f"sleep 0.2; exit {i}", timeout=10).exit_status)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    def watch() -> None:
        while any(t.is_alive() for t in workers):
            stats = service.pool.stats()["servers"].get("web1", {})
            seen.append(stats.get("open", 0) + stats.get("connecting", 0))
            time.sleep(0.01)

    # 4 callers for 2 slots: the last two wait for a slot (SSH_POOL_ACQUIRE_TIMEOUT, 10s).
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    watch()
    assert errors == []
    assert sorted(statuses) == [0, 1, 2, 3]
    assert max(seen) == 2


def test_a_caller_beyond_the_cap_waits_a_bounded_time(ssh_app, sshd: Sshd, add_password_server):
    app = ssh_app(SSH_POOL_MAX_PER_HOST="1", SSH_POOL_ACQUIRE_TIMEOUT="300ms")
    add_password_server(app, credentials(app), sshd)
    service = ssh(app)
    with service.connection("web1"):
        started = time.monotonic()
        with pytest.raises(PoolExhausted, match="all 1 connections to server 'web1'.*0.3s"):
            service.run("web1", "true")
        assert 0.25 < time.monotonic() - started < 2
    assert service.run("web1", "echo freed").stdout == "freed\n"


def test_first_use_pins_in_the_database_and_a_change_is_refused(ssh_app, add_password_server):
    with Sshd() as server:
        app = ssh_app()
        add_password_server(app, credentials(app), server, name="pinme")
        service = ssh(app)
        service.run("pinme", "true")
        assert service.servers.get("pinme").host_key == server.host_public_keys["ed25519"]

        server.rotate_host_keys()
        with pytest.raises(HostKeyChanged, match="forget-host-key pinme"):
            service.run("pinme", "true")
        assert service.forget_host_key("pinme") is not None
        assert service.run("pinme", "echo again").stdout == "again\n"
        assert service.servers.get("pinme").host_key == server.host_public_keys["ed25519"]


def test_a_pin_forgotten_by_another_process_is_honoured(ssh_app, engine, add_password_server):
    with Sshd() as server:
        app = ssh_app()
        add_password_server(app, credentials(app), server, name="shared")
        service = ssh(app)
        service.run("shared", "true")
        server.rotate_host_keys()
        with pytest.raises(HostKeyChanged):
            service.run("shared", "true")
        ServerStore(engine).forget("shared")  # `ocore ssh forget-host-key` in another process
        assert service.run("shared", "echo repinned").stdout == "repinned\n"
        assert service.servers.get("shared").host_key == server.host_public_keys["ed25519"]


def test_unknown_server_and_credential(ssh_app, sshd: Sshd):
    app = ssh_app()
    service = ssh(app)
    with pytest.raises(ServerNotFound, match="no server named 'ghost'"):
        service.run("ghost", "true")
    with pytest.raises(CredentialUnusable, match="no credential named 'nope' in the vault"):
        service.add("web1", sshd.host, port=sshd.port, credential="nope")
    credentials(app).put("anon", "password", "s3cret-Password-1")
    with pytest.raises(InvalidServer, match="give one with --user"):
        service.add("web1", sshd.host, port=sshd.port, credential="anon")
    assert service.servers.list() == []


def test_connection_errors_are_typed_and_clear(
    ssh_app, sshd: Sshd, protected_key, engine, add_password_server, ssh_secrets
):
    app = ssh_app(SSH_COMMAND_TIMEOUT="1s")
    service, vault = ssh(app), credentials(app)
    closed = Sshd()  # a free port nobody listens on
    try:
        vault.put("pw", "password", sshd.password, username=sshd.user)
        service.add("down", closed.host, port=closed.port, credential="pw")
        with pytest.raises(SSHConnectError, match="cannot connect to server 'down'"):
            service.run("down", "true")
    finally:
        closed.cleanup()

    add_password_server(service, vault, sshd, name="badpw", password=ssh_secrets.wrong_password)
    with pytest.raises(AuthFailed, match="authentication failed for server 'badpw'") as caught:
        service.run("badpw", "true")
    assert ssh_secrets.wrong_password not in str(caught.value)

    vault.put(
        "locked",
        "private_key",
        protected_key,
        username=sshd.user,
        passphrase=ssh_secrets.passphrase,
    )
    service.add("locked", sshd.host, port=sshd.port, credential="locked")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE vault_credentials SET passphrase = NULL WHERE name = 'locked'")
    with pytest.raises(CredentialUnusable, match="encrypted and the vault holds no passphrase"):
        service.run("locked", "true")

    add_password_server(service, vault, sshd, name="slow")
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="exceeded its 1s timeout"):
        service.run("slow", "sleep 600")  # bounded by SSH_COMMAND_TIMEOUT
    assert time.monotonic() - started < 3
    assert service.run("slow", "echo still-usable").stdout == "still-usable\n"


def test_close_app_leaks_no_sockets_or_threads(
    ssh_env, sshd: Sshd, client_key, add_password_server, ssh_plugins
):
    def exercise() -> None:
        app: Flask = create_app({**ssh_env, "SSH_COMMAND_TIMEOUT": "2s"}, ssh_plugins)
        try:
            service: SSHService = ssh(app)
            vault: CredentialStore = credentials(app)
            if not service.servers.list():
                vault.put("key", "private_key", client_key, username=sshd.user)
                service.add("leak-key", sshd.host, port=sshd.port, credential="key")
                add_password_server(service, vault, sshd, name="leak-pw")
                add_password_server(service, vault, sshd, name="leak-bad", password="nope-nope")
            errors: list[BaseException] = []

            def work(name: str) -> None:
                try:
                    service.run(name, "sleep 0.1")
                except BaseException as exc:  # collected and asserted below
                    errors.append(exc)

            workers = [
                threading.Thread(target=work, args=(name,)) for name in ("leak-key", "leak-pw") * 3
            ]
            for t in workers:
                t.start()
            for t in workers:
                t.join()
            assert errors == []
            with pytest.raises(AuthFailed):
                service.run("leak-bad", "true")
            with pytest.raises(CommandTimeout):
                service.run("leak-pw", "sleep 30")
            assert service.pool.stats()["open"] >= 2
        finally:
            close_app(app)

    exercise()  # warm-up: lazily created library state (crypto backends, loggers) stays
    threads, fds = threading.active_count(), open_fds()
    exercise()
    assert wait_for(lambda: threading.active_count() <= threads, timeout=3), thread_names()
    assert wait_for(lambda: open_fds() <= fds, timeout=3)
    assert wait_for(lambda: sshd.established_connections() == 0, timeout=3)
