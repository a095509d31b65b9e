"""``ocore ssh``: add and list managed servers, pin and check them, run a command, re-pin a key.

Errors are one line on stderr, scrubbed of configured secrets, with a non-zero status: 1, or for
``ssh run`` 255 like OpenSSH's client (124 when the command timed out), so the remote command's
own exit status stays distinguishable.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

import ocore_ssh
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import CommandError, emit, fail, json_option, known_errors, table
from ocore_flask.config import DurationError, parse_duration
from ocore_flask.health.freshness import format_age
from ocore_flask.invocation import invoked
from ocore_ssh.hostkeys import HostKeyChanged, SSHError, fingerprint
from ocore_ssh.pool import CommandTimeout
from ocore_ssh.servers import Server
from ocore_vault import CredentialKind, VaultError

EXIT_SSH_ERROR = 255  # what OpenSSH's ssh(1) exits with when it, not the command, failed
EXIT_TIMEOUT = 124  # what timeout(1) exits with
KNOWN = (SSHError, VaultError)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value).seconds
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter("must be greater than zero, e.g. 30s")
    return seconds


def _key_summary(line: str | None) -> str:
    if not line:
        return "not pinned"
    return f"{line.split()[0]} {fingerprint(line)}"


def _login(server: Server, default_user: str | None = None) -> str:
    """``user@host:port``; the user is the server's own, else its credential's."""
    return f"{server.username or default_user or '?'}@{server.host}:{server.port}"


def _credential_users() -> dict[str, str | None]:
    """Each credential's stored username (no secret is read)."""
    return {info.name: info.username for info in ocore_ssh.ssh().vault.list()}


def _pin_hint(server: Server) -> str:
    """How an unpinned server gets its key pinned: ``ssh pin`` where a password needs a pin."""
    service = ocore_ssh.ssh()
    kind = next((c.kind for c in service.vault.list() if c.name == server.credential), None)
    if service.pool.password_needs_pin and kind is CredentialKind.PASSWORD:
        return (
            f"Host key not pinned yet: `{invoked(f'ssh pin {server.name}')}` pins it (needed "
            "before a password is sent)."
        )
    return f"Host key not pinned yet: `{invoked(f'ssh check {server.name}')}` pins it."


@click.group("ssh")
def ssh_group() -> None:
    """Managed servers over SSH: vault credentials, pooled connections, pinned host keys."""


@ssh_group.command("add")
@click.argument("name")
@click.argument("host")
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True)
@click.option("--user", "username", help="Login name (default: the credential's username).")
@click.option("--credential", required=True, help="Name of the vault credential to log in with.")
@click.option(
    "--host-key",
    help="Pin this host key now ('ssh-ed25519 AAAA...'); else the first connection pins it.",
)
@json_option
@with_app
def add_command(
    name: str,
    host: str,
    port: int,
    username: str | None,
    credential: str,
    host_key: str | None,
    as_json: bool,
) -> None:
    """Add server NAME at HOST, logging in with a vault credential."""
    with known_errors(*KNOWN):
        server = ocore_ssh.ssh().add(
            name, host, credential=credential, port=port, username=username, host_key=host_key
        )
        login = _login(server, _credential_users().get(server.credential))
        hint = None if server.host_key else _pin_hint(server)
    lines = [f"Added server {server.name}: {login} with credential {server.credential}"]
    lines.append(hint or f"Host key pinned: {_key_summary(server.host_key)}")
    emit(
        {"added": server.name, "login": login, "server": server.to_dict()},
        as_json,
        "\n".join(lines),
    )


@ssh_group.command("list")
@json_option
@with_app
def list_command(as_json: bool) -> None:
    """List the managed servers and their pinned host keys."""
    with known_errors(*KNOWN):
        found = ocore_ssh.ssh().servers.list()
        users = _credential_users()

    def text() -> str | None:
        if not found:
            return f"No servers. Add one with `{invoked('ssh add NAME HOST --credential NAME')}`."
        rows = [
            (
                s.name,
                _login(s, users.get(s.credential)),
                s.credential,
                _key_summary(s.host_key),
                _last_check(s),
            )
            for s in found
        ]
        table(("NAME", "LOGIN", "CREDENTIAL", "HOST KEY", "LAST CHECK"), rows)
        return None

    emit([server.to_dict() for server in found], as_json, text)


def _last_check(server: Server) -> str:
    """``ok 3m ago`` / ``failed 1h 2m ago: <reason>`` / ``never`` (task ssh.check_servers)."""
    if server.last_check_at is None:
        return "never"
    ago = format_age(datetime.now(UTC) - server.last_check_at)
    text = f"{server.last_check_status} {ago} ago"
    if server.last_check_status == "failed" and server.last_check_error:
        reason = server.last_check_error
        text += f": {reason if len(reason) <= 60 else reason[:59] + '…'}"
    return text


@ssh_group.command("check")
@click.argument("name")
@json_option
@with_app
def check_command(name: str, as_json: bool) -> None:
    """Connect to NAME, run `true`, pin its host key on first use, and print the latency."""
    with known_errors(*KNOWN):
        outcome = ocore_ssh.ssh().check(name)
    server = outcome.server
    if outcome.pinned_now:
        pin = "pinned now: first use; compare the fingerprint with the server's out of band"
    else:
        pin = "matches the pinned key"
    result = {
        "server": server.name,
        "login": _login(server, outcome.username),
        "ok": True,
        "connect_ms": round(outcome.connect_ms, 1),
        "first_ms": round(outcome.first_ms, 1),
        "reuse_ms": round(outcome.reuse_ms, 1),
        "host_key": outcome.host_key,
        "host_key_fingerprint": fingerprint(outcome.host_key),
        "pinned_now": outcome.pinned_now,
    }
    text = (
        f"{server.name} ({result['login']}): OK\n"
        f"  connect   {outcome.connect_ms:8.1f} ms  (TCP, SSH handshake, authentication)\n"
        f"  first     {outcome.first_ms:8.1f} ms  (`true`; the server starts the session)\n"
        f"  again     {outcome.reuse_ms:8.1f} ms  (`true` on the open connection)\n"
        f"  host key  {_key_summary(outcome.host_key)} ({pin})"
    )
    emit(result, as_json, text)


@ssh_group.command("run", context_settings={"ignore_unknown_options": True})
@click.option(
    "--timeout",
    metavar="DURATION",
    callback=_duration,
    help="Kill the command after this long (Go duration; default SSH_COMMAND_TIMEOUT).",
)
@json_option
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@with_app
def run_command(timeout: float | None, as_json: bool, name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND on NAME (ssh run NAME -- COMMAND...) and exit with its exit status.

    With --json: {"server", "command", "exit_status", "stdout", "stderr", "duration_ms",
    "timed_out"}; the exit status is still the remote command's."""
    line = " ".join(command)
    report: dict[str, Any] = {"server": name, "command": line}
    with known_errors(*KNOWN, exit_code=EXIT_SSH_ERROR):
        try:
            result = ocore_ssh.ssh().run(name, line, timeout)
        except CommandTimeout as exc:
            error = CommandError(str(exc), EXIT_TIMEOUT)
            _print_output(report, None, exc.stdout, exc.stderr, None, as_json)
            raise error from None
    duration = round(result.duration * 1000, 1)
    _print_output(report, result.exit_status, result.stdout, result.stderr, duration, as_json)
    sys.exit(result.exit_status if result.exit_status >= 0 else EXIT_SSH_ERROR)


def _print_output(
    report: dict[str, Any],
    status: int | None,
    stdout: str,
    stderr: str,
    duration_ms: float | None,
    as_json: bool,
) -> None:
    """The remote output as-is, or one JSON document with it (``timed_out`` when no status)."""
    if as_json:
        emit(
            {
                **report,
                "exit_status": status,
                "stdout": stdout,
                "stderr": stderr,
                "duration_ms": duration_ms,
                "timed_out": status is None,
            },
            as_json,
        )
        return
    click.echo(stdout, nl=False)
    click.echo(stderr, nl=False, err=True)


@ssh_group.command("forget-host-key")
@click.argument("name")
@json_option
@with_app
def forget_host_key_command(name: str, as_json: bool) -> None:
    """Forget NAME's pinned host key, so the next connection pins the key it is shown."""
    with known_errors(*KNOWN):
        old = ocore_ssh.ssh().forget_host_key(name)
    result = {
        "server": name,
        "forgotten": old,
        "fingerprint": fingerprint(old) if old else None,
    }
    if old is None:
        text = f"No host key is pinned for {name}; the next connection pins one."
    else:
        text = (
            f"Forgot the host key pinned for {name} ({_key_summary(old)}).\n"
            f"Pin the new one: `{invoked(f'ssh pin {name}')}` shows the key the server "
            "presents; check its fingerprint out of band before you confirm."
        )
    emit(result, as_json, text)


@ssh_group.command("pin")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Pin without asking (scripts: check first).")
@json_option
@with_app
def pin_command(name: str, yes: bool, as_json: bool) -> None:
    """Show the host key NAME presents (no login is attempted) and pin it once confirmed."""
    with known_errors(*KNOWN):
        server, line = ocore_ssh.ssh().fetch_host_key(name)
        if server.host_key is not None and server.host_key != line:
            raise HostKeyChanged(
                server=name,
                address=f"{server.host}:{server.port}",
                expected_fingerprint=fingerprint(server.host_key),
                presented_fingerprint=fingerprint(line),
                presented_key_line=line,
            )
        already = server.host_key == line
        if not already and not yes:
            if as_json:
                fail(f"pinning needs confirmation: check the fingerprint, then add --yes ({name})")
            click.echo(
                f"{name} ({server.host}:{server.port}) presents {_key_summary(line)}", err=True
            )
            if not click.confirm("Pin this host key?", err=True):
                fail(f"not pinned: the host key of {name} was not confirmed")
        pinned_now = False if already else ocore_ssh.ssh().pin(name, line)
    result = {
        "server": name,
        "host_key": line,
        "host_key_fingerprint": fingerprint(line),
        "pinned_now": pinned_now,
    }
    if pinned_now:
        text = f"Pinned the host key of {name}: {_key_summary(line)}"
    else:
        text = f"The host key of {name} is already pinned: {_key_summary(line)}"
    emit(result, as_json, text)


@ssh_group.command("remove")
@click.argument("name")
@json_option
@with_app
def remove_command(name: str, as_json: bool) -> None:
    """Remove server NAME (its vault credential stays)."""
    with known_errors(*KNOWN):
        if not ocore_ssh.ssh().delete(name):
            fail(f"no server named {name!r}")
    emit({"removed": name}, as_json, f"Removed server {name}.")


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [ssh_group]
