"""The gateway end to end: the real OpenSSH client (``ssh``, ``sftp``, ``scp``) through one
``ocore gateway`` process per module to the real ``sshd``, with vault credentials and pinned
host keys. Every refusal reaches the client as one clear line."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text

import ocore_auth
import ocore_database
import ocore_gateway
import ocore_ssh
import ocore_vault
from ocore_flask.testing import free_port, rich_health, wait_for
from ocore_gateway.testing import HOST, GatewayProcess, GatewayUsers, add_backend, keygen
from ocore_ssh.testing import Sshd

pytestmark = pytest.mark.usefixtures("backend")


def sessions_of(app, email: str) -> list:
    """Audit rows of one user, newest first."""
    return [r for r in ocore_gateway.gateway(app).audit.latest(200) if r.user_email == email]


def open_sessions(app) -> int:
    with ocore_database.engine(app).connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM gateway_sessions WHERE ended_at IS NULL")
        ).scalar_one()


def all_closed(app) -> bool:
    return open_sessions(app) == 0


# -- sessions ---------------------------------------------------------------------------------


def test_exec_passes_output_stderr_and_exit_status(
    gateway: GatewayProcess, gateway_users, gateway_app
):
    user = gateway_users("admin")
    done = gateway.ssh(user.key, "web1", "echo hello; echo oops >&2; exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout == b"hello\n"
    assert done.stderr == b"oops\n"

    assert wait_for(lambda: all_closed(gateway_app))
    (row,) = sessions_of(gateway_app, user.email)
    assert row.user_id == user.user.id
    assert row.key_fingerprint == user.key.fingerprint
    assert row.target == "web1"
    assert row.client_address.startswith("127.0.0.1:")
    assert (row.kind, row.command) == ("exec", "echo hello; echo oops >&2; exit 3")
    assert (row.bytes_in, row.bytes_out, row.exit_status) == (0, len(b"hello\noops\n"), 3)
    assert row.ended_at is not None and row.ended_at >= row.started_at


def test_stdin_passes_through_byte_for_byte(gateway: GatewayProcess, gateway_users):
    user = gateway_users("operator")
    data = secrets.token_bytes(3 * 1024 * 1024)
    done = gateway.ssh(user.key, "web1", "cat", stdin=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout == data


def test_exit_signal_matches_a_direct_login(
    gateway: GatewayProcess, gateway_users, gateway_app, sshd: Sshd, tmp_path: Path
):
    user = gateway_users("admin")
    through = gateway.ssh(user.key, "web1", "kill -KILL $$")
    direct_key = keygen(tmp_path, "direct")
    sshd.authorize(direct_key.public_line)
    direct = subprocess.run(
        [
            "ssh",
            "-p",
            str(sshd.port),
            *gateway.ssh_options(direct_key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            f"UserKnownHostsFile={tmp_path / 'kh'}",
            f"{sshd.user}@{sshd.host}",
            "kill -KILL $$",
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert through.returncode == direct.returncode
    assert wait_for(lambda: all_closed(gateway_app))
    (row,) = sessions_of(gateway_app, user.email)
    assert (row.exit_status, row.exit_signal) == (None, "KILL")


def test_a_pty_shell(gateway: GatewayProcess, gateway_users, gateway_app):
    user = gateway_users("admin")
    script = b"tty; echo TERM=$TERM; exit 7\n"
    done = gateway.ssh(user.key, "web1", options=["-tt"], stdin=script, timeout=30)
    assert done.returncode == 7, done.stderr
    out = done.stdout.decode()
    assert "/dev/pts/" in out
    assert "TERM=" in out
    assert wait_for(lambda: all_closed(gateway_app))
    (row,) = sessions_of(gateway_app, user.email)
    assert (row.kind, row.command, row.exit_status) == ("shell", None, 7)


def test_window_changes_reach_the_server(gateway: GatewayProcess, gateway_users):
    """ssh in a real terminal: the size it starts with, then a resize (SIGWINCH), are what the
    remote PTY reports."""
    import fcntl
    import struct
    import termios

    user = gateway_users("admin")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        gateway.ssh_argv(user.key, "web1", "-t", "stty size; sleep 1; stty size"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 20
    resized = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if b"30 100" in seen and not resized:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            proc.send_signal(__import__("signal").SIGWINCH)
            resized = True
    proc.wait(10)
    os.close(master)
    assert b"30 100" in seen, seen
    assert b"40 120" in seen, seen


def test_sftp_upload_and_download_byte_for_byte(
    gateway: GatewayProcess, gateway_users, tmp_path: Path
):
    user = gateway_users("admin")
    local = tmp_path / "up.bin"
    local.write_bytes(secrets.token_bytes(2 * 1024 * 1024 + 123))
    remote = f"/tmp/ocore-gw-{secrets.token_hex(4)}.bin"
    back = tmp_path / "down.bin"
    done = gateway.sftp(
        user.key, "web1", f"put {local} {remote}\nget {remote} {back}\nrm {remote}\n"
    )
    assert done.returncode == 0, done.stderr
    assert back.read_bytes() == local.read_bytes()


def test_scp_both_ways(gateway: GatewayProcess, gateway_users, tmp_path: Path):
    user = gateway_users("admin")
    local = tmp_path / "scp.bin"
    local.write_bytes(secrets.token_bytes(512 * 1024))
    remote = f"/tmp/ocore-gw-scp-{secrets.token_hex(4)}.bin"
    up = gateway.scp(user.key, "-O", str(local), f"web1@{HOST}:{remote}")
    assert up.returncode == 0, up.stderr
    down = gateway.scp(user.key, "-O", f"web1@{HOST}:{remote}", str(tmp_path / "back.bin"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
    sftp_mode = gateway.scp(user.key, str(local), f"web1@{HOST}:{remote}.2")  # scp over SFTP
    assert sftp_mode.returncode == 0, sftp_mode.stderr
    check = gateway.ssh(user.key, "web1", f"cmp {remote} {remote}.2 && rm {remote} {remote}.2")
    assert check.returncode == 0, check.stderr


# -- refusals ---------------------------------------------------------------------------------


def test_an_unregistered_key_is_refused(gateway: GatewayProcess, tmp_path: Path):
    stranger = keygen(tmp_path, "stranger")
    done = gateway.ssh(stranger, "web1", "true")
    assert done.returncode == 255
    err = done.stderr.decode()
    assert f"the key {stranger.fingerprint} is not registered" in err
    assert "Permission denied (publickey)" in err


def test_an_unknown_target_is_refused(gateway: GatewayProcess, gateway_users):
    user = gateway_users("admin")
    done = gateway.ssh(user.key, "nosuchserver", "true")
    assert done.returncode == 255
    assert "ocore gateway: there is no server named 'nosuchserver'" in done.stderr.decode()


def test_a_viewer_needs_a_grant(gateway: GatewayProcess, gateway_users, gateway_app):
    viewer = gateway_users("viewer")
    refused = gateway.ssh(viewer.key, "web1", "echo in")
    assert refused.returncode == 255
    assert f"{viewer.email} (viewer) may not reach server 'web1'" in refused.stderr.decode()
    assert f"gateway grant {viewer.email} web1" in refused.stderr.decode()

    service = ocore_gateway.gateway(gateway_app)
    assert service.grant(viewer.email, "web1") is True
    allowed = gateway.ssh(viewer.key, "web1", "echo in")
    assert (allowed.returncode, allowed.stdout) == (0, b"in\n"), allowed.stderr

    assert service.revoke(viewer.email, "web1") is True
    again = gateway.ssh(viewer.key, "web1", "echo in")
    assert again.returncode == 255


def test_a_disabled_user_is_refused(gateway: GatewayProcess, gateway_users, gateway_app):
    user = gateway_users("admin")
    ocore_auth.auth(gateway_app).set_disabled(user.email, True)
    done = gateway.ssh(user.key, "web1", "true")
    assert done.returncode == 255
    assert f"ocore gateway: the account {user.email} is disabled" in done.stderr.decode()
    assert sessions_of(gateway_app, user.email) == []


def test_user_names_that_cannot_be_server_names_are_refused(
    gateway: GatewayProcess, gateway_users, monkeypatch: pytest.MonkeyPatch
):
    import asyncio

    import asyncssh

    user = gateway_users("admin")
    spaced = gateway.ssh(user.key, "web 1", "true")
    assert spaced.returncode == 255
    assert (
        "the SSH user name 'web 1' contains control characters or spaces" in spaced.stderr.decode()
    )

    # OpenSSH's client refuses control characters itself; a client that sends them anyway:
    monkeypatch.setattr(asyncssh.connection, "saslprep", lambda name: name)

    async def attempt() -> str:
        try:
            async with asyncssh.connect(
                HOST,
                gateway.port,
                username="web1\x1b[2J",
                client_keys=[str(user.key.path)],
                known_hosts=None,
                config=None,
                agent_path=None,
            ) as conn:
                await conn.run("true")
        except asyncssh.DisconnectError as exc:
            return exc.reason
        return "accepted"

    reason = asyncio.run(attempt())
    assert "Prohibited character" in reason and "\x1b" not in reason
    assert wait_for(lambda: "ended before login: Prohibited character" in gateway.output)


def test_a_changed_backend_host_key_is_refused(gateway: GatewayProcess, gateway_users, gateway_app):
    user = gateway_users("admin")
    with Sshd() as moved:
        add_backend(gateway_app, moved, "moved")
        assert gateway.ssh(user.key, "moved", "true").returncode == 0
        moved.rotate_host_keys()
        done = gateway.ssh(user.key, "moved", "echo secret-output")
    assert done.returncode == 255
    err = done.stderr.decode()
    pinned = ocore_ssh.ssh(gateway_app).servers.get("moved").host_key_fingerprint
    assert (
        f"the host key of server 'moved' ({HOST}:{moved.port}) is not the pinned one ({pinned}"
        in err
    )
    assert "forget-host-key moved" in err
    assert done.stdout == b""


def test_backend_problems_are_one_line(
    gateway: GatewayProcess, gateway_users, gateway_app, sshd: Sshd
):
    user = gateway_users("admin")
    vault = ocore_vault.credentials(gateway_app)
    servers = ocore_ssh.ssh(gateway_app)
    pin = sshd.host_public_keys["ed25519"]
    vault.put("wrong-pw", "password", "not-the-password-Zq8", username=sshd.user)
    servers.add("locked", sshd.host, port=sshd.port, credential="wrong-pw", host_key=pin)
    servers.add("down", HOST, port=free_port(), credential="wrong-pw", host_key=pin)
    servers.add("unpinned", sshd.host, port=sshd.port, credential="wrong-pw")
    cases = {
        "locked": "refused the stored credential",
        "down": "cannot reach server 'down'",
        "unpinned": "has no pinned host key yet",
    }
    for name, fragment in cases.items():
        done = gateway.ssh(user.key, name, "true")
        assert done.returncode == 255, name
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ocore gateway: "), lines
        assert fragment in lines[0]
        assert "not-the-password" not in lines[0] and "Traceback" not in gateway.output


def test_port_forwarding_is_refused(gateway: GatewayProcess, gateway_users, sshd: Sshd):
    user = gateway_users("admin")
    remote = gateway.ssh(
        user.key, "web1", options=["-N", "-R", "0:127.0.0.1:9", "-o", "ExitOnForwardFailure=yes"]
    )
    assert remote.returncode == 255
    assert "remote port forwarding failed" in remote.stderr.decode()

    local_port = free_port()
    argv = gateway.ssh_argv(user.key, "web1", "-N", "-L", f"{local_port}:{sshd.host}:{sshd.port}")
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(lambda: _listening(local_port), timeout=10)
        with socket.create_connection((HOST, local_port), timeout=5) as sock:
            sock.settimeout(5)
            assert sock.recv(100) == b""  # closed at once: never reached sshd's banner
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # ssh may miss a SIGTERM in a busy moment
            proc.kill()
            _, err = proc.communicate(timeout=10)
    assert "administratively prohibited" in err.decode()
    assert "port forwarding is not allowed" in err.decode()
    assert "port forwarding" in gateway.output


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def test_session_limits(gateway: GatewayProcess, gateway_users: GatewayUsers, gateway_app):
    """2 per user, 4 in all (the kit's settings)."""
    busy = gateway_users("admin")
    others = [gateway_users("operator"), gateway_users("operator")]
    held: list[subprocess.Popen[bytes]] = []

    def hold(who) -> None:
        held.append(
            subprocess.Popen(
                gateway.ssh_argv(who.key, "web1", "sleep 20"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
        count = len(held)
        assert wait_for(lambda: open_sessions(gateway_app) == count, timeout=10)

    try:
        hold(busy)
        hold(busy)
        third = gateway.ssh(busy.key, "web1", "true")
        assert third.returncode == 255
        assert (
            "open failed: administratively prohibited: ocore gateway: "
            f"{busy.email} already has 2 open sessions, the limit per user"
        ) in third.stderr.decode()
        for who in others:
            hold(who)
        full = gateway.ssh(gateway_users("operator").key, "web1", "true")
        assert full.returncode == 255
        assert "the gateway is at its limit of 4 open sessions" in full.stderr.decode()
    finally:
        for proc in held:
            proc.terminate()
            proc.communicate(timeout=10)
    assert wait_for(lambda: all_closed(gateway_app), timeout=10)
    assert gateway.ssh(busy.key, "web1", "true").returncode == 0


# -- audit and health -------------------------------------------------------------------------


def test_sessions_command_lists_the_audit_trail(
    gateway: GatewayProcess, gateway_users, gateway_app, gateway_env
):
    import json

    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from ocore_flask.app import create_app
    from ocore_flask.cli import ocore
    from ocore_gateway.testing import gateway_plugins

    user = gateway_users("admin")
    assert gateway.ssh(user.key, "web1", "echo audited").returncode == 0
    assert wait_for(lambda: all_closed(gateway_app))

    def cli(*args: str):
        info = ScriptInfo(create_app=lambda: create_app(dict(gateway_env), gateway_plugins()))
        return CliRunner().invoke(ocore, ["gateway", *args], obj=info)

    result = cli("sessions", "--user", user.email, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["sessions"]
    assert row["user_email"] == user.email and row["command"] == "echo audited"
    assert row["exit_status"] == 0 and row["bytes_out"] == len(b"audited\n")
    table = cli("sessions")
    assert table.exit_code == 0 and user.email in table.stdout


def test_health_reads_a_fresh_heartbeat(gateway: GatewayProcess, gateway_app):
    info = ocore_gateway.gateway(gateway_app).host_keys.info()
    assert wait_for(lambda: rich_health(gateway_app)[1]["checks"]["ssh_gateway"]["status"] == "ok")
    status, payload = rich_health(gateway_app)
    section = payload["checks"]["ssh_gateway"]
    assert status == 200 and section["critical"] is False
    assert section["data"]["state"] == "running"
    assert section["data"]["host_key_fingerprint"] == info.fingerprint
    assert section["data"]["listen_address"] == f"{HOST}:{gateway.port}"
    assert section["data"]["age_s"] < 3


def test_signals_reach_the_command(gateway: GatewayProcess, gateway_users):
    """OpenSSH's client never sends the "signal" request; asyncssh's does."""
    import asyncio

    import asyncssh

    user = gateway_users("admin")

    async def signalled() -> tuple[object, object]:
        async with (
            asyncssh.connect(
                HOST,
                gateway.port,
                username="web1",
                client_keys=[str(user.key.path)],
                known_hosts=str(gateway.known_hosts),
                config=None,
                agent_path=None,
            ) as conn,
            conn.create_process("echo started; exec sleep 30") as proc,
        ):
            assert await proc.stdout.readline() == "started\n"
            proc.send_signal("TERM")
            result = await asyncio.wait_for(proc.wait(), 10)
        return result.exit_status, result.exit_signal

    status, signal = asyncio.run(signalled())
    assert signal is not None and signal[0] == "TERM", (status, signal)
