"""``ocore gateway``: run the SSH gateway (no subcommand), print its host key, manage users'
keys and viewers' grants, read the audit trail.

Running it refuses with exit 78 while SSH_GATEWAY_ENABLED is off and with exit 69 when
SSH_LISTEN_ADDR is taken, before anything else starts. Other errors are one line on stderr
with exit status 1.
"""

from __future__ import annotations

import errno
import os
import socket
from datetime import UTC, datetime
from typing import IO, Any

import click

import ocore_gateway
from ocore_auth import AuthError
from ocore_flask.cli.app_loading import load_app, with_app
from ocore_flask.cli.kit import emit, fail, json_option, known_errors, table
from ocore_flask.config import resolve
from ocore_flask.errors import EX_CONFIG, EX_UNAVAILABLE
from ocore_flask.health.freshness import format_age
from ocore_flask.invocation import invoked
from ocore_flask.settings import SETTINGS as HOST_SETTINGS
from ocore_gateway.errors import GatewayError
from ocore_gateway.pubkeys import MAX_TEXT
from ocore_gateway.settings import SETTINGS, ListenAddress
from ocore_ssh import SSHError
from ocore_vault import VaultError

KNOWN = (GatewayError, AuthError, SSHError, VaultError, LookupError)
NEEDS = ("gateway",)


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [gateway_group]


@click.group("gateway", invoke_without_command=True)
@json_option
@click.pass_context
def gateway_group(ctx: click.Context, as_json: bool) -> None:
    """Run the SSH gateway until SIGTERM or Ctrl-C (without a subcommand), or manage its host
    key, users' keys, grants and audit trail. With --json: a summary when it stops."""
    if ctx.invoked_subcommand is None:
        _run(as_json)


def _listen_address() -> ListenAddress | None:
    """SSH_LISTEN_ADDR when the gateway is enabled; exit 78 when it is not."""
    config = resolve(os.environ, [*HOST_SETTINGS, *SETTINGS])
    enabled = config.plain("SSH_GATEWAY_ENABLED")
    if enabled is False:
        fail(
            "the SSH gateway is switched off (SSH_GATEWAY_ENABLED is not true), so `"
            f"{invoked('gateway')}` does not start; set SSH_GATEWAY_ENABLED=true to run it",
            EX_CONFIG,
        )
    return config.plain("SSH_LISTEN_ADDR")  # None while invalid: the app's report names it


def _check_port(address: ListenAddress) -> None:
    """Exit 69 when the address cannot be bound (as the server will bind it)."""
    try:
        infos = socket.getaddrinfo(
            address.host or None, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError:
        return  # unresolvable: the server's own error says so
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                _port_unavailable(address, exc)


def _port_unavailable(address: ListenAddress, exc: OSError) -> None:
    if exc.errno == errno.EADDRINUSE:
        why = "the address is already in use (another ocore gateway, or sshd?)"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    else:
        why = exc.strerror or str(exc)
    fail(
        f"cannot listen on {address} (SSH_LISTEN_ADDR): {why}; pick another with "
        "SSH_LISTEN_ADDR=host:port",
        EX_UNAVAILABLE,
    )


def _run(as_json: bool) -> None:
    address = _listen_address()
    if address is not None:
        _check_port(address)
    from ocore_flask.app import close_app
    from ocore_gateway.server import run_gateway

    app = load_app(needs=NEEDS)
    try:
        with app.app_context():

            def ready(listen: str, fingerprint: str) -> None:
                click.echo(
                    f"ocore gateway: listening on {listen}, host key {fingerprint}", err=True
                )

            try:
                with known_errors(*KNOWN):
                    summary = run_gateway(app, on_ready=ready)
            except OSError as exc:
                if address is None:
                    raise
                _port_unavailable(address, exc)
    finally:
        close_app(app)
    emit(
        summary.__dict__,
        as_json,
        f"ocore gateway: stopped ({summary.stopped_by or 'done'}): {summary.connections} "
        f"connection(s), {summary.sessions} session(s)",
    )


# -- host key ---------------------------------------------------------------------------------


@gateway_group.command("host-key")
@json_option
@with_app(needs=NEEDS)
def host_key_command(as_json: bool) -> None:
    """Print the gateway's host key and its SHA256 fingerprint, for users to pin (generated on
    first use and kept encrypted in the vault)."""
    service = ocore_gateway.gateway()
    with known_errors(*KNOWN):
        info = service.host_keys.ensure()
    listen = service.settings.listen
    host = listen.host if listen.host and listen.host not in ("0.0.0.0", "::") else "HOST"
    line = info.known_hosts_line(host, listen.port)
    emit(
        {**info.to_dict(), "known_hosts": line},
        as_json,
        f"{info.public_key}\n{info.fingerprint}\n"
        f"known_hosts line for users (HOST: the gateway's public name):\n{line}",
    )


# -- keys -------------------------------------------------------------------------------------


@gateway_group.group("keys")
def keys_group() -> None:
    """Users' SSH public keys for logging in through the gateway."""


@keys_group.command("add")
@click.argument("email")
@click.argument("source", type=click.File("r", encoding="utf-8", errors="replace"))
@json_option
@with_app(needs=NEEDS)
def keys_add(email: str, source: IO[str], as_json: bool) -> None:
    """Register the public key in SOURCE (a .pub file, or - for stdin) for the user EMAIL."""
    text = source.read(MAX_TEXT + 1)
    with known_errors(*KNOWN):
        added = ocore_gateway.gateway().add_key(email, text)
    key = added.key
    if added.warning and not as_json:
        click.echo(f"warning: {added.warning}", err=True)
    emit(
        {"added": key.to_dict(), "user": email, "warning": added.warning},
        as_json,
        f"Added key {key.id} for {email}: {key.algorithm} {key.fingerprint}"
        + (f" {key.comment}" if key.comment else ""),
    )


@keys_group.command("list")
@click.argument("email", required=False)
@json_option
@with_app(needs=NEEDS)
def keys_list(email: str | None, as_json: bool) -> None:
    """List registered keys (of EMAIL only, when given)."""
    service = ocore_gateway.gateway()
    with known_errors(*KNOWN):
        user_id = service.users.require(email).id if email else None
        keys = service.keys.list(user_id)
        emails = _emails(service)
    rows = [{**k.to_dict(), "user": emails.get(k.user_id, "?")} for k in keys]
    emit({"keys": rows}, as_json, lambda: _keys_table(rows))


def _keys_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo(f"No keys registered. Add one: `{invoked('gateway keys add EMAIL FILE')}`.")
        return
    table(
        ("ID", "USER", "TYPE", "BITS", "FINGERPRINT", "COMMENT", "LAST USED"),
        [
            (
                r["id"],
                r["user"],
                r["algorithm"],
                r["bits"],
                r["fingerprint"],
                r["comment"] or "",
                _ago(r["last_used_at"]),
            )
            for r in rows
        ],
    )


@keys_group.command("remove")
@click.argument("key_id", type=int)
@json_option
@with_app(needs=NEEDS)
def keys_remove(key_id: int, as_json: bool) -> None:
    """Remove the registered key KEY_ID (open sessions are not cut)."""
    with known_errors(*KNOWN):
        key = ocore_gateway.gateway().keys.remove(key_id)
    emit({"removed": key.to_dict()}, as_json, f"Removed key {key.id}: {key.fingerprint}")


# -- grants -----------------------------------------------------------------------------------


@gateway_group.command("grant")
@click.argument("email")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def grant_command(email: str, server: str, as_json: bool) -> None:
    """Let the viewer EMAIL reach SERVER through the gateway."""
    with known_errors(*KNOWN):
        new = ocore_gateway.gateway().grant(email, server)
    text = f"{email} may now reach {server}" if new else f"{email} could already reach {server}"
    emit({"user": email, "server": server, "granted": new}, as_json, text)


@gateway_group.command("revoke")
@click.argument("email")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def revoke_command(email: str, server: str, as_json: bool) -> None:
    """Take away the grant of EMAIL for SERVER (open sessions are not cut)."""
    with known_errors(*KNOWN):
        gone = ocore_gateway.gateway().revoke(email, server)
    text = f"Revoked: {email} on {server}" if gone else f"{email} had no grant for {server}"
    emit({"user": email, "server": server, "revoked": gone}, as_json, text)


@gateway_group.command("grants")
@click.argument("email", required=False)
@json_option
@with_app(needs=NEEDS)
def grants_command(email: str | None, as_json: bool) -> None:
    """List viewers' grants (of EMAIL only, when given)."""
    service = ocore_gateway.gateway()
    with known_errors(*KNOWN):
        user_id = service.users.require(email).id if email else None
        found = service.grants.list(user_id)
        emails = _emails(service)
    rows = [
        {"user": emails.get(uid, "?"), "server": server, "granted_at": at.isoformat()}
        for uid, server, at in found
    ]
    emit(
        {"grants": rows},
        as_json,
        lambda: (
            table(
                ("USER", "SERVER", "GRANTED"),
                [(r["user"], r["server"], _ago(r["granted_at"])) for r in rows],
            )
            if rows
            else click.echo("No grants (admins and operators reach every server).")
        ),
    )


# -- audit ------------------------------------------------------------------------------------


@gateway_group.command("sessions")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--user", "email", help="Only this user's sessions.")
@json_option
@with_app(needs=NEEDS)
def sessions_command(limit: int, email: str | None, as_json: bool) -> None:
    """The audit trail: the latest sessions through the gateway, newest first."""
    service = ocore_gateway.gateway()
    with known_errors(*KNOWN):
        user_id = service.users.require(email).id if email else None
        records = service.audit.latest(limit, user_id)
    rows = [r.to_dict() for r in records]
    emit({"sessions": rows}, as_json, lambda: _sessions_table(records))


def _sessions_table(records: list[Any]) -> None:
    if not records:
        click.echo("No sessions yet.")
        return
    table(
        ("ID", "STARTED", "USER", "TARGET", "FROM", "KIND", "COMMAND", "EXIT", "IN", "OUT", "TIME"),
        [
            (
                r.id,
                _ago(r.started_at.isoformat()),
                r.user_email,
                r.target,
                r.client_address,
                r.kind,
                (r.command or "")[:40],
                r.exit_signal or ("-" if r.exit_status is None else r.exit_status),
                r.bytes_in,
                r.bytes_out,
                format_age(r.ended_at - r.started_at) if r.ended_at else "open",
            )
            for r in records
        ],
    )


def _emails(service: Any) -> dict[int, str]:
    return {user.id: user.email for user in service.users.all()}


def _ago(moment: str | None) -> str:
    if moment is None:
        return "never"
    return format_age(datetime.now(UTC) - datetime.fromisoformat(moment)) + " ago"
