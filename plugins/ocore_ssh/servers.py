"""Managed servers: the ``ssh_servers`` rows, and the ``SSHTarget`` each one becomes (their
errors: ``ocore_ssh.server_errors``).

A server names the vault credential it logs in with: a foreign key to the vault's credential
name, so a credential in use cannot be deleted (the vault reports ``CredentialInUse``). Its host
key is pinned on the first successful connection (``pin``, a compare-and-set, so two
processes cannot pin different keys) or given when the server is added, and cleared only
deliberately (``forget``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_flask.config import kinds
from ocore_flask.invocation import invoked
from ocore_ssh.hostkeys import HostKeyChanged, fingerprint, key_line, parse_key_line
from ocore_ssh.pool import KeyAuth, PasswordAuth, SSHTarget
from ocore_ssh.schema import TABLE_NAME, servers
from ocore_ssh.server_errors import (
    CredentialUnusable,
    InvalidServer,
    ServerError,
    ServerExists,
    ServerInUse,
    ServerNotFound,
    ServersNotMigrated,
)
from ocore_vault import (
    CredentialKind,
    CredentialNotFound,
    CredentialStore,
    PassphraseRequired,
    PrivateKeyError,
    VaultError,
    check_name,
    username_problem,
)

__all__ = [
    "CredentialUnusable",
    "InvalidServer",
    "Server",
    "ServerError",
    "ServerExists",
    "ServerInUse",
    "ServerNotFound",
    "ServerStore",
    "ServersNotMigrated",
    "normalise_host_key",
    "target_for",
]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = kinds.hostname()

t = servers


@dataclass(frozen=True)
class Server:
    """One managed server; ``username`` None means the credential's username."""

    name: str
    host: str
    port: int
    username: str | None
    credential: str
    host_key: str | None
    host_key_pinned_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_check_at: datetime | None = None
    last_check_status: str | None = None
    last_check_error: str | None = None

    @property
    def host_key_fingerprint(self) -> str | None:
        """SHA256 fingerprint of the pinned host key, or None while unpinned."""
        return fingerprint(self.host_key) if self.host_key else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``ssh list --json``); there is nothing secret in a row."""
        return {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "credential": self.credential,
            "host_key": self.host_key,
            "host_key_fingerprint": self.host_key_fingerprint,
            "host_key_pinned_at": _iso(self.host_key_pinned_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "last_check_at": _iso(self.last_check_at),
            "last_check_status": self.last_check_status,
            "last_check_error": self.last_check_error,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _server(row: Any) -> Server:
    return Server(
        name=row.name,
        host=row.host,
        port=row.port,
        username=row.username,
        credential=row.credential,
        host_key=row.host_key,
        host_key_pinned_at=row.host_key_pinned_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_check_at=row.last_check_at,
        last_check_status=row.last_check_status,
        last_check_error=row.last_check_error,
    )


# -- validation -------------------------------------------------------------------------------


def check_server_name(name: object) -> str:
    """A server name: 1-64 letters, digits, ``.``, ``_`` or ``-``, starting alphanumeric."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidServer(
            "a server name is 1-64 characters: letters, digits and . _ -, "
            "starting with a letter or digit"
        )
    return name


def _check_host(host: object) -> str:
    if not isinstance(host, str) or not host:
        raise InvalidServer("the host is empty; give a host name or IP address")
    try:
        return _HOST.parse(host)
    except ValueError as exc:
        raise InvalidServer(f"host {host!r} {exc}") from None


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidServer(f"port must be a whole number from 1 to 65535, not {port!r}")
    return port


def _check_username(username: object) -> str | None:
    problem = username_problem(username)
    if problem:
        raise InvalidServer(problem)
    return username or None  # type: ignore[return-value]


def normalise_host_key(line: object) -> str:
    """An OpenSSH public key line as pinned ("type base64"); a known_hosts line works too."""
    if not isinstance(line, str) or not line.strip():
        raise InvalidServer("the host key is empty; give a line like 'ssh-ed25519 AAAA...'")
    parts = line.split()
    # "type base64 [comment]" as in a .pub file, or "host type base64" as ssh-keyscan prints.
    for candidate in (parts, parts[1:]):
        try:
            return key_line(parse_key_line(" ".join(candidate)))
        except ValueError as exc:
            reason = str(exc)
            if len(parts) < 3:
                break
    raise InvalidServer(
        f"not a usable host key ({reason}); give an OpenSSH public key line like "
        "'ssh-ed25519 AAAA...' (e.g. from `ssh-keyscan -t ed25519 HOST`)"
    )


@contextmanager
def _translate() -> Iterator[None]:
    """Turn "relation does not exist" into ServersNotMigrated; other errors pass through."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise ServersNotMigrated() from None
        raise


# -- the store --------------------------------------------------------------------------------


class ServerStore:
    """Add, get, list, pin, forget and delete managed servers over the shared engine."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the database plugin's)."""
        self.engine = engine

    def __repr__(self) -> str:
        return f"ServerStore({TABLE_NAME})"

    def add(
        self,
        name: str,
        host: str,
        *,
        credential: str,
        port: int = 22,
        username: str | None = None,
        host_key: str | None = None,
    ) -> Server:
        """Add a server; ``host_key`` pins it up front, else the first connection does."""
        values: dict[str, Any] = {
            "name": check_server_name(name),
            "host": _check_host(host),
            "port": _check_port(port),
            "username": _check_username(username),
            "credential": _check_credential_name(credential),
        }
        if host_key is not None:
            values["host_key"] = normalise_host_key(host_key)
            values["host_key_pinned_at"] = func.now()
        try:
            with _translate(), self.engine.begin() as conn:
                row = conn.execute(
                    pg_insert(t)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=[t.c.name])
                    .returning(*t.c)
                ).first()
        except sa_exc.IntegrityError as exc:
            if getattr(exc.orig, "pgcode", None) != "23503":  # foreign key: no such credential
                raise
            raise CredentialUnusable(
                f"there is no credential named {credential!r} in the vault; store it first "
                f"(`{invoked('vault put')}`) or name an existing one",
                server=name,
            ) from None
        if row is None:
            raise ServerExists(name)
        return _server(row)

    def get(self, name: str) -> Server:
        """The server called ``name``, or ServerNotFound."""
        with _translate(), self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise ServerNotFound(name)
        return _server(row)

    def list(self) -> list[Server]:
        """Every server, by name."""
        with _translate(), self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.name)).all()
        return [_server(row) for row in rows]

    def pin(self, name: str, host_key: str) -> bool:
        """Pin ``host_key`` unless one is pinned: True if pinned now, False if already the same.

        A different key already pinned (another process got there first) raises HostKeyChanged.
        """
        line = normalise_host_key(host_key)
        with _translate(), self.engine.begin() as conn:
            pinned = conn.execute(
                update(t)
                .where(t.c.name == name, t.c.host_key.is_(None))
                .values(host_key=line, host_key_pinned_at=func.now(), updated_at=func.now())
                .returning(t.c.id)
            ).first()
            if pinned is not None:
                return True
            row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise ServerNotFound(name)
        if row.host_key == line:
            return False
        raise HostKeyChanged(
            server=name,
            address=f"{row.host}:{row.port}",
            expected_fingerprint=fingerprint(row.host_key),
            presented_fingerprint=fingerprint(line),
            presented_key_line=line,
        )

    def forget(self, name: str) -> str | None:
        """Clear the pinned host key (the next connection pins anew); return the old one."""
        with _translate(), self.engine.begin() as conn:
            old = conn.execute(
                select(t.c.host_key).where(t.c.name == name).with_for_update()
            ).first()
            if old is None:
                raise ServerNotFound(name)
            if old.host_key is not None:
                conn.execute(
                    update(t)
                    .where(t.c.name == name)
                    .values(host_key=None, host_key_pinned_at=None, updated_at=func.now())
                )
        return old.host_key

    def record_check(self, name: str, status: str, error: str | None) -> None:
        """Store the outcome of a reachability check (``ssh.check_servers``)."""
        with _translate(), self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == name)
                .values(last_check_at=func.now(), last_check_status=status, last_check_error=error)
            )

    def delete(self, name: str) -> bool:
        """Delete a server; False when there was none by that name, ServerInUse when a row of
        another plugin's still references it."""
        try:
            with _translate(), self.engine.begin() as conn:
                return conn.execute(t.delete().where(t.c.name == name)).rowcount > 0
        except sa_exc.IntegrityError as exc:
            if getattr(exc.orig, "pgcode", None) not in ("23001", "23503"):  # restrict, foreign key
                raise
            diag = getattr(exc.orig, "diag", None)
            raise ServerInUse(name, getattr(diag, "table_name", None)) from None


def _check_credential_name(name: object) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise InvalidServer(f"credential: {exc}") from None


# -- server + credential -> target ------------------------------------------------------------


def target_for(server: Server, vault: CredentialStore) -> SSHTarget:
    """The pool's view of ``server``: its address, pin, and its credential decrypted in memory."""
    where = f"server {server.name!r}"
    try:
        credential = vault.get(server.credential)
    except CredentialNotFound:
        raise CredentialUnusable(
            f"{where} uses credential {server.credential!r}, which is not in the vault",
            server=server.name,
        ) from None
    except VaultError as exc:
        raise CredentialUnusable(f"{where}: {exc}", server=server.name) from None
    username = server.username or credential.username
    if not username:
        raise CredentialUnusable(
            f"{where} has no username: neither the server nor its credential "
            f"{server.credential!r} names one; add the server again with --user",
            server=server.name,
        )
    try:
        if credential.kind is CredentialKind.PASSWORD:
            auth: PasswordAuth | KeyAuth = PasswordAuth(credential.secret())
        else:
            auth = KeyAuth(credential.private_key())
    except PassphraseRequired:
        raise CredentialUnusable(
            f"{where}: the private key in credential {server.credential!r} is encrypted and "
            "the vault holds no passphrase for it; store the key again with its passphrase",
            server=server.name,
        ) from None
    except (PrivateKeyError, VaultError) as exc:
        raise CredentialUnusable(
            f"{where}: credential {server.credential!r} cannot be used: {exc}",
            server=server.name,
        ) from None
    return SSHTarget(
        name=server.name,
        host=server.host,
        port=server.port,
        username=username,
        auth=auth,
        pinned_host_key=server.host_key,
    )
