"""``ocore vault …``: put, list, verify, rotate, status and delete stored SSH credentials.

Every failure is one line on stderr and a non-zero exit; no command prints a secret.
Secrets come from stdin or a hidden prompt, never from the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError

from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.output import emit_json
from ocore_flask.redact import scrub_text
from ocore_flask.state import get_state, plugin_state
from ocore_vault.crypto import VaultError
from ocore_vault.keyring import key_role
from ocore_vault.plugin import REPAIR_META, VaultState
from ocore_vault.privatekeys import (
    MAX_KEY_TEXT_SIZE,
    PassphraseRequired,
    PrivateKeyError,
    load_private_key,
)
from ocore_vault.rotate import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, RotationResult, rotate
from ocore_vault.store import (
    MAX_PASSWORD_LENGTH,
    CredentialInfo,
    Kind,
    VerifyFailure,
    check_name,
)

KINDS = {"password": Kind.PASSWORD, "private-key": Kind.PRIVATE_KEY}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _scrub(text: str) -> str:
    secrets = get_state(current_app).config.secret_values() if has_app_context() else ()
    return scrub_text(text, secrets)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the vault's typed errors (and database errors) into one clean line."""
    try:
        yield
    except click.ClickException:
        raise
    except (VaultError, PrivateKeyError) as exc:
        raise click.ClickException(_scrub(" ".join(str(exc).split()))) from None
    except SQLAlchemyError as exc:
        reason = _first_line(str(getattr(exc, "orig", None) or type(exc).__name__))
        raise click.ClickException(_scrub(f"database error: {reason}")) from None


def _vault() -> VaultState:
    return plugin_state("vault")


@click.group("vault")
@click.pass_context
def vault_group(ctx: click.Context) -> None:
    """SSH credential vault: store, inspect, verify and re-key credentials."""
    # These commands are how an operator repairs rows on unknown keys, so they start anyway.
    ctx.meta[REPAIR_META] = True


# -- put --------------------------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _strip_newline(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return text


def _read_password() -> str:
    if _stdin_is_terminal():
        return click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, default="", show_default=False
        )
    text = sys.stdin.read(MAX_PASSWORD_LENGTH + 3)
    return _strip_newline(text)


def _read_key(key_file: str) -> bytes:
    limit = MAX_KEY_TEXT_SIZE + 1
    if key_file == "-":
        return sys.stdin.buffer.read(limit)
    path = Path(key_file)
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError as exc:
        raise click.ClickException(f"cannot read key file {key_file}: {exc.strerror}") from None


def _passphrase_for(key: bytes, from_stdin: bool) -> str | None:
    """Get the passphrase of an encrypted key (stdin or prompt) and prove it opens the key."""
    if from_stdin:
        passphrase = _strip_newline(sys.stdin.readline())
    else:
        try:
            load_private_key(key)
            return None
        except PassphraseRequired:
            if not _stdin_is_terminal():
                raise click.ClickException(
                    "the private key is encrypted: give its passphrase with --passphrase-stdin "
                    "(and the key with --key-file PATH), or run from a terminal to be prompted"
                ) from None
        passphrase = click.prompt("Passphrase", hide_input=True, default="", show_default=False)
    load_private_key(key, passphrase or None)  # WrongPassphrase, KeyFormatError…
    return passphrase or None


@vault_group.command("put")
@click.argument("name")
@click.option("--kind", type=click.Choice(sorted(KINDS)), required=True, help="What NAME holds.")
@click.option("--username", "-u", help="Login name on the managed servers.")
@click.option(
    "--key-file",
    metavar="PATH|-",
    help="Private key file (PEM or OpenSSH); - reads it from stdin.",
)
@click.option(
    "--passphrase-stdin", is_flag=True, help="Read the key's passphrase from stdin (one line)."
)
@click.option("--replace", is_flag=True, help="Overwrite an existing credential called NAME.")
def put_command(
    name: str,
    kind: str,
    username: str | None,
    key_file: str | None,
    passphrase_stdin: bool,
    replace: bool,
) -> None:
    """Store a password (from stdin or a hidden prompt) or a private key (from a file or stdin)."""
    with _errors():
        check_name(name)
        passphrase: str | None = None
        if KINDS[kind] is Kind.PASSWORD:
            if key_file or passphrase_stdin:
                raise click.UsageError("--key-file and --passphrase-stdin need --kind private-key")
            secret: str | bytes = _read_password()
        else:
            if not key_file:
                raise click.UsageError("--kind private-key needs --key-file PATH (or - for stdin)")
            if key_file == "-" and passphrase_stdin:
                raise click.UsageError(
                    "stdin cannot carry both the key and its passphrase; use --key-file PATH"
                )
            secret = _read_key(key_file)
            passphrase = _passphrase_for(secret, passphrase_stdin)
    _put(name, KINDS[kind], secret, username, passphrase, replace)


@with_app
def _put(
    name: str,
    kind: Kind,
    secret: str | bytes,
    username: str | None,
    passphrase: str | None,
    replace: bool,
) -> None:
    with _errors():
        vault = _vault()
        info = vault.store.put(
            name, kind, secret, username=username, passphrase=passphrase, replace=replace
        )
        role = key_role(vault.keyring, info.key_id)
    what = "password" if info.kind is Kind.PASSWORD else f"private key {info.fingerprint}"
    extra = ", passphrase-protected" if info.has_passphrase else ""
    user = f" for user {info.username}" if info.username else ""
    click.echo(
        f"stored {what} as {info.name!r}{user}{extra} (version {info.version}, "
        f"key id {info.key_id_hex}, {role})"
    )


# -- list, delete -------------------------------------------------------------------------------


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@vault_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_app
def list_command(as_json: bool) -> None:
    """Every stored credential: name, kind, username, fingerprint, key id. Never a secret."""
    with _errors():
        vault = _vault()
        found: list[CredentialInfo] = vault.store.list()
    if as_json:
        emit_json([{**c.to_dict(), "key": key_role(vault.keyring, c.key_id)} for c in found])
        return
    if not found:
        click.echo("no credentials stored")
        return
    rows = [("NAME", "KIND", "USERNAME", "FINGERPRINT", "KEY ID", "KEY", "UPDATED")]
    for c in found:
        rows.append(
            (
                c.name,
                c.kind.value + (" (passphrase)" if c.has_passphrase else ""),
                c.username or "-",
                c.fingerprint or "-",
                c.key_id_hex,
                key_role(vault.keyring, c.key_id),
                c.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
        )
    _table(rows)


@vault_group.command("delete")
@click.argument("name")
@with_app
def delete_command(name: str) -> None:
    """Delete the credential called NAME."""
    with _errors():
        deleted = _vault().store.delete(name)
    if not deleted:
        raise click.ClickException(f"no credential named {name!r}")
    click.echo(f"deleted {name!r}")


# -- verify, rotate, status ---------------------------------------------------------------------


def _report_failure(failure: VerifyFailure) -> None:
    click.echo(f"FAILED {failure.name}: {failure.error}: {_scrub(failure.message)}", err=True)


@vault_group.command("verify")
@with_app
def verify_command() -> None:
    """Decrypt every credential with the configured keys; exit 1 if any fails."""
    with _errors():
        result = _vault().store.verify(on_failure=_report_failure)
    if result.ok:
        click.echo(f"verified {result.checked} credential(s): all readable")
        return
    click.echo(
        f"verified {result.checked} credential(s): {len(result.failures)} failed "
        f"({', '.join(f.name for f in result.failures)})"
    )
    sys.exit(1)


def _rotation_summary(result: RotationResult) -> str:
    text = (
        f"rotated {result.rotated} credential(s) to key id {result.active_key_id} in "
        f"{result.batches} batch(es), {result.elapsed:.2f}s"
    )
    if result.skipped:
        text += f"; {result.skipped} changed concurrently and kept the newer write"
    return text


@vault_group.command("rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per transaction.",
)
@with_app
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every credential on a previous key with the active key (safe to rerun)."""
    with _errors():
        vault = _vault()
        result = rotate(vault.store.engine, vault.keyring, batch_size)
    for failure in result.failures:
        _report_failure(failure)
    click.echo(_rotation_summary(result))
    if result.complete:
        click.echo(
            "every credential is on the active key; previous keys can leave "
            "SSH_ENCRYPTION_KEY_PREVIOUS"
        )
        return
    click.echo(
        f"{result.remaining} credential(s) are still not on the active key "
        "(failed, locked by another writer, or on an unknown key): see `ocore vault status`, "
        "then rerun `ocore vault rotate`"
    )
    sys.exit(1)


@vault_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_app
def status_command(as_json: bool) -> None:
    """Rows per key id and which configured key each is: active, previous #N or UNKNOWN."""
    with _errors():
        status = _vault().store.status()
    if as_json:
        emit_json(status.to_dict())
        return
    click.echo(f"active key id: {status.active_key_id} ({status.active_source})")
    rows = [("KEY ID", "ROWS", "KEY")]
    rows += [(k.key_id, str(k.rows), k.role) for k in status.keys]
    _table(rows)
    click.echo(f"credentials: {status.rows_total}")
    if status.rows_on_previous_keys:
        click.echo(
            f"{status.rows_on_previous_keys} credential(s) on previous keys: "
            "run `ocore vault rotate`"
        )
    if status.unknown_keys:
        click.echo(
            f"{status.rows_on_unknown_keys} credential(s) on UNKNOWN key ids: add the key "
            "that wrote them to SSH_ENCRYPTION_KEY_PREVIOUS, or delete them"
        )
