"""``ocore ssh``: add and list managed servers, check them, run a command, re-pin a host key.

Errors are one line on stderr, scrubbed of configured secrets, with a non-zero status: 1, or for
``ssh run`` 255 like OpenSSH's client (124 when the command timed out), so the remote command's
own exit status stays distinguishable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.output import emit_json
from ocore_flask.config import DurationError, parse_duration
from ocore_flask.redact import Scrubber
from ocore_flask.state import get_state
from ocore_ssh.hostkeys import SSHError, fingerprint
from ocore_ssh.pool import CommandTimeout
from ocore_ssh.servers import Server
from ocore_ssh.service import ssh_service
from ocore_vault.crypto import VaultError

EXIT_ERROR = 1
EXIT_SSH_ERROR = 255  # what OpenSSH's ssh(1) exits with when it, not the command, failed
EXIT_TIMEOUT = 124  # what timeout(1) exits with


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    scrubber = Scrubber(get_state().config.secret_values())
    click.echo("error: " + scrubber.text(" ".join(message.split())), err=True)
    sys.exit(code)


@contextmanager
def _errors(code: int = EXIT_ERROR) -> Iterator[None]:
    """Known failures become one clear line and exit ``code``; never a traceback."""
    try:
        yield
    except (SSHError, VaultError) as exc:
        _fail(str(exc), code)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"database error: {reason}", code)


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
    return {info.name: info.username for info in ssh_service().vault.list()}


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
@with_app
def add_command(
    name: str, host: str, port: int, username: str | None, credential: str, host_key: str | None
) -> None:
    """Add server NAME at HOST, logging in with a vault credential."""
    with _errors():
        server = ssh_service().add(
            name, host, credential=credential, port=port, username=username, host_key=host_key
        )
    login = _login(server, _credential_users().get(server.credential))
    click.echo(f"Added server {server.name}: {login} with credential {server.credential}")
    if server.host_key:
        click.echo(f"Host key pinned: {_key_summary(server.host_key)}")
    else:
        click.echo(f"Host key not pinned yet: `ocore ssh check {server.name}` pins it.")


@ssh_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_app
def list_command(as_json: bool) -> None:
    """List the managed servers and their pinned host keys."""
    with _errors():
        found = ssh_service().servers.list()
        users = _credential_users()
    if as_json:
        emit_json([server.to_dict() for server in found])
        return
    if not found:
        click.echo("No servers. Add one with `ocore ssh add NAME HOST --credential NAME`.")
        return
    rows = [("NAME", "LOGIN", "CREDENTIAL", "HOST KEY")]
    rows += [
        (s.name, _login(s, users.get(s.credential)), s.credential, _key_summary(s.host_key))
        for s in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for *padded, last in rows:
        cells = [cell.ljust(width + 2) for cell, width in zip(padded, widths, strict=True)]
        click.echo("".join(cells) + last)


@ssh_group.command("check")
@click.argument("name")
@with_app
def check_command(name: str) -> None:
    """Connect to NAME, run `true`, pin its host key on first use, and print the latency."""
    with _errors():
        outcome = ssh_service().check(name)
    server = outcome.server
    if outcome.pinned_now:
        pin = "pinned now: first use; compare the fingerprint with the server's out of band"
    else:
        pin = "matches the pinned key"
    click.echo(f"{server.name} ({_login(server, outcome.username)}): OK")
    click.echo(f"  connect   {outcome.connect_ms:8.1f} ms  (TCP, SSH handshake, authentication)")
    click.echo(f"  first     {outcome.first_ms:8.1f} ms  (`true`; the server starts the session)")
    click.echo(f"  again     {outcome.reuse_ms:8.1f} ms  (`true` on the open connection)")
    click.echo(f"  host key  {_key_summary(outcome.host_key)} ({pin})")


@ssh_group.command("run", context_settings={"ignore_unknown_options": True})
@click.option(
    "--timeout",
    metavar="DURATION",
    callback=_duration,
    help="Kill the command after this long (Go duration; default SSH_COMMAND_TIMEOUT).",
)
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@with_app
def run_command(timeout: float | None, name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND on NAME (ssh run NAME -- COMMAND...) and exit with its exit status."""
    with _errors(EXIT_SSH_ERROR):
        try:
            result = ssh_service().run(name, " ".join(command), timeout)
        except CommandTimeout as exc:
            click.echo(exc.stdout, nl=False)
            click.echo(exc.stderr, nl=False, err=True)
            _fail(str(exc), EXIT_TIMEOUT)
    click.echo(result.stdout, nl=False)
    click.echo(result.stderr, nl=False, err=True)
    sys.exit(result.exit_status if result.exit_status >= 0 else EXIT_SSH_ERROR)


@ssh_group.command("forget-host-key")
@click.argument("name")
@with_app
def forget_host_key_command(name: str) -> None:
    """Forget NAME's pinned host key, so the next connection pins the key it is shown."""
    with _errors():
        old = ssh_service().forget_host_key(name)
    if old is None:
        click.echo(f"No host key is pinned for {name}; the next connection pins one.")
        return
    click.echo(f"Forgot the host key pinned for {name} ({_key_summary(old)}).")
    click.echo(
        "The next connection pins the key it is shown: check the server's fingerprint out of "
        f"band, then run `ocore ssh check {name}`."
    )


@ssh_group.command("remove")
@click.argument("name")
@with_app
def remove_command(name: str) -> None:
    """Remove server NAME (its vault credential stays)."""
    with _errors():
        if not ssh_service().delete(name):
            _fail(f"no server named {name!r}")
    click.echo(f"Removed server {name}.")
