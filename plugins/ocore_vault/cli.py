"""``ocore vault …``: put, list, verify, rotate, status and delete stored SSH credentials.

Every failure is one line on stderr and a non-zero exit; no command prints a secret.
Secrets come from stdin or a hidden prompt, never from the command line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import ocore_vault
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import (
    CommandError,
    emit,
    fail,
    json_option,
    json_requested,
    known_errors,
    progress,
    scrub,
    table,
)
from ocore_flask.invocation import invoked
from ocore_vault.crypto import VaultError
from ocore_vault.keyring import key_role
from ocore_vault.privatekeys import (
    MAX_KEY_TEXT_SIZE,
    PassphraseRequired,
    PrivateKeyError,
    load_private_key,
)
from ocore_vault.rotate import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, RotationResult, rotate
from ocore_vault.startup import REPORTS_KEY_IDS, unknown_keys_fix
from ocore_vault.store import (
    MAX_PASSWORD_LENGTH,
    CredentialInfo,
    CredentialKind,
    VerifyFailure,
    check_name,
)

KINDS = {"password": CredentialKind.PASSWORD, "private-key": CredentialKind.PRIVATE_KEY}
KNOWN = (VaultError, PrivateKeyError)

# These commands are how an operator repairs rows on unknown keys, so they start anyway.
with_vault = with_app(repair=True)


def reports_key_ids(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator (above ``with_vault``): this command reports unknown key ids itself, so the
    startup check stays quiet instead of printing the same report first."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().meta[REPORTS_KEY_IDS] = True
        return func(*args, **kwargs)

    return wrapper


@click.group("vault")
def vault_group() -> None:
    """SSH credential vault: store, inspect, verify and re-key credentials."""


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
        raise CommandError(f"cannot read key file {key_file}: {exc.strerror}") from None


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
                raise CommandError(
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
@json_option
def put_command(
    name: str,
    kind: str,
    username: str | None,
    key_file: str | None,
    passphrase_stdin: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Store a password (from stdin or a hidden prompt) or a private key (from a file or stdin)."""
    with known_errors(*KNOWN):
        check_name(name)
        passphrase: str | None = None
        if KINDS[kind] is CredentialKind.PASSWORD:
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
    _put(name, KINDS[kind], secret, username, passphrase, replace, as_json)


@with_vault
def _put(
    name: str,
    kind: CredentialKind,
    secret: str | bytes,
    username: str | None,
    passphrase: str | None,
    replace: bool,
    as_json: bool,
) -> None:
    with known_errors(*KNOWN):
        store = ocore_vault.credentials()
        info = store.put(
            name, kind, secret, username=username, passphrase=passphrase, replace=replace
        )
        role = key_role(store.keyring, info.key_id)
    what = "password" if info.kind is CredentialKind.PASSWORD else f"private key {info.fingerprint}"
    extra = ", passphrase-protected" if info.has_passphrase else ""
    user = f" for user {info.username}" if info.username else ""
    text = (
        f"stored {what} as {info.name!r}{user}{extra} (version {info.version}, "
        f"key id {info.key_id_hex}, {role})"
    )
    emit({"stored": info.name, "credential": {**info.to_dict(), "key": role}}, as_json, text)


# -- list, delete -------------------------------------------------------------------------------


@vault_group.command("list")
@json_option
@with_vault
def list_command(as_json: bool) -> None:
    """Every stored credential: name, kind, username, fingerprint, key id. Never a secret."""
    with known_errors(*KNOWN):
        store = ocore_vault.credentials()
        found: list[CredentialInfo] = store.list()

    def text() -> str | None:
        if not found:
            return "no credentials stored"
        rows = [
            (
                c.name,
                c.kind.value + (" (passphrase)" if c.has_passphrase else ""),
                c.username or "-",
                c.fingerprint or "-",
                c.key_id_hex,
                key_role(store.keyring, c.key_id),
                c.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
            for c in found
        ]
        table(("NAME", "KIND", "USERNAME", "FINGERPRINT", "KEY ID", "KEY", "UPDATED"), rows)
        return None

    emit([{**c.to_dict(), "key": key_role(store.keyring, c.key_id)} for c in found], as_json, text)


@vault_group.command("delete")
@click.argument("name")
@json_option
@with_vault
def delete_command(name: str, as_json: bool) -> None:
    """Delete the credential called NAME."""
    with known_errors(*KNOWN):
        if not ocore_vault.credentials().delete(name):
            fail(f"no credential named {name!r}")
    emit({"deleted": name}, as_json, f"deleted {name!r}")


# -- verify, rotate, status ---------------------------------------------------------------------


def _failure(failure: VerifyFailure) -> dict[str, str]:
    return {"name": failure.name, "error": failure.error, "message": scrub(failure.message)}


def _report_failure(failure: VerifyFailure) -> None:
    """A failed row on stderr as it is found (text mode); --json lists them in the document."""
    if not json_requested():
        row = _failure(failure)
        click.echo(f"FAILED {row['name']}: {row['error']}: {row['message']}", err=True)


@vault_group.command("verify")
@json_option
@with_vault
def verify_command(as_json: bool) -> None:
    """Decrypt every credential with the configured keys; exit 1 if any fails."""
    with known_errors(*KNOWN):
        result = ocore_vault.credentials().verify(on_failure=_report_failure)
    failures = [_failure(f) for f in result.failures]
    text = f"verified {result.checked} credential(s): all readable"
    if failures:
        names = ", ".join(f["name"] for f in failures)
        text = f"verified {result.checked} credential(s): {len(failures)} failed ({names})"
    emit({"checked": result.checked, "ok": result.ok, "failures": failures}, as_json, text)
    sys.exit(0 if result.ok else 1)


def _rotation_text(result: RotationResult) -> str:
    text = (
        f"rotated {result.rotated} credential(s) to key id {result.active_key_id} in "
        f"{result.batches} batch(es), {result.elapsed:.2f}s"
    )
    if result.skipped:
        text += f"; {result.skipped} changed concurrently and kept the newer write"
    if result.complete:
        return (
            f"{text}\nevery credential is on the active key; previous keys can leave "
            "SSH_ENCRYPTION_KEY_PREVIOUS"
        )
    return (
        f"{text}\n{result.remaining} credential(s) are still not on the active key "
        f"(failed, locked by another writer, or on an unknown key): see "
        f"`{invoked('vault status')}`, then rerun `{invoked('vault rotate')}`"
    )


def _batch_done(result: RotationResult) -> None:
    progress(
        f"vault rotate: batch {result.batches}: {result.rotated} rotated, "
        f"{result.skipped} skipped, {len(result.failures)} failed"
    )


@vault_group.command("rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per transaction.",
)
@json_option
@with_vault
def rotate_command(batch_size: int, as_json: bool) -> None:
    """Re-encrypt every credential on a previous key with the active key (safe to rerun)."""
    with known_errors(*KNOWN):
        store = ocore_vault.credentials()
        result = rotate(store.engine, store.keyring, batch_size, on_batch=_batch_done)
    for failure in result.failures:
        _report_failure(failure)
    summary: dict[str, Any] = {
        "active_key_id": result.active_key_id,
        "rotated": result.rotated,
        "batches": result.batches,
        "skipped": result.skipped,
        "remaining": result.remaining,
        "complete": result.complete,
        "elapsed_s": round(result.elapsed, 3),
        "failures": [_failure(f) for f in result.failures],
    }
    emit(summary, as_json, _rotation_text(result))
    sys.exit(0 if result.complete else 1)


@vault_group.command("status")
@json_option
@reports_key_ids
@with_vault
def status_command(as_json: bool) -> None:
    """Rows per key id and which configured key each is: active, previous #N or UNKNOWN."""
    with known_errors(*KNOWN):
        status = ocore_vault.credentials().status()

    def text() -> None:
        click.echo(f"active key id: {status.active_key_id} ({status.active_source})")
        table(("KEY ID", "ROWS", "KEY"), [(k.key_id, k.rows, k.role) for k in status.keys])
        click.echo(f"credentials: {status.rows_total}")
        if status.rows_on_previous_keys:
            click.echo(
                f"{status.rows_on_previous_keys} credential(s) on previous keys: "
                f"run `{invoked('vault rotate')}`"
            )
        if status.unknown_keys:
            click.echo(
                f"{status.rows_on_unknown_keys} credential(s) on UNKNOWN key ids: "
                f"{unknown_keys_fix()} Or delete them: `{invoked('vault delete NAME')}`."
            )

    emit(status.to_dict(), as_json, text)


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [vault_group]
