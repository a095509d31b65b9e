"""CredentialStore: SSH passwords and private keys, encrypted per row, over the shared engine.

Every stored value is bound (associated data) to this table, its purpose and the row's primary
key, so a value copied to another row or column fails its integrity check. Writes always use
the active key; reads use whichever configured key the value names. Values are decrypted only
when ``Credential.secret()`` / ``passphrase()`` / ``private_key()`` is called, never in a repr.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import paramiko
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_vault.crypto import KeyRing, MalformedValue, Purpose, VaultError
from ocore_vault.keyring import JWT_PREVIOUS_ROLE, UNKNOWN, active_source, key_role
from ocore_vault.privatekeys import ParsedKey, PrivateKeyError, load_private_key
from ocore_vault.schema import TABLE_NAME, credentials

__all__ = [
    "Credential",
    "CredentialError",
    "CredentialExists",
    "CredentialInUse",
    "CredentialInfo",
    "CredentialNotFound",
    "CredentialStore",
    "InvalidCredential",
    "KeyUsage",
    "Kind",
    "VaultNotMigrated",
    "VaultStatus",
    "VerifyFailure",
    "VerifyResult",
]

MAX_NAME_LENGTH = 128
MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 4096
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+/-]{0,127}")
_PAGE = 500

t = credentials


class Kind(enum.StrEnum):
    """What a credential holds; the value is what the ``kind`` column stores."""

    PASSWORD = "password"  # noqa: S105 (a kind label, not a secret)
    PRIVATE_KEY = "private_key"


SECRET_PURPOSE = {Kind.PASSWORD: Purpose.PASSWORD, Kind.PRIVATE_KEY: Purpose.PRIVATE_KEY}


class CredentialError(VaultError):
    """A credential operation was refused (bad input, missing row, schema not migrated)."""


class CredentialNotFound(CredentialError, LookupError):
    """No credential has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no credential named {name!r}")


class CredentialExists(CredentialError):
    """``put`` without ``replace`` found the name taken."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a credential named {name!r} already exists")


class CredentialInUse(CredentialError):
    """``delete`` refused: another table (e.g. the SSH plugin's servers) still refers to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"credential {name!r} is still in use (another table refers to it); "
            "point those rows at another credential first"
        )


class InvalidCredential(CredentialError, ValueError):
    """The name, username or secret given to ``put`` is not acceptable."""


class VaultNotMigrated(CredentialError):
    """The credentials table does not exist yet."""

    def __init__(self) -> None:
        super().__init__(f"the {TABLE_NAME} table does not exist; run `ocore db upgrade` first")


@dataclass(frozen=True, eq=False, repr=False)
class CredentialInfo:
    """What may be shown about a credential: never the secret, never the passphrase."""

    id: uuid.UUID
    name: str
    kind: Kind
    username: str | None
    fingerprint: str | None
    key_id: bytes
    has_passphrase: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def key_id_hex(self) -> str:
        """The key id of the key that encrypted this row, as 16 hex digits."""
        return self.key_id.hex()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``vault list --json``)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "username": self.username,
            "fingerprint": self.fingerprint,
            "has_passphrase": self.has_passphrase,
            "key_id": self.key_id_hex,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, kind={self.kind.value!r}, "
            f"username={self.username!r}, key_id={self.key_id_hex!r}, version={self.version})"
        )

    __str__ = __repr__


@dataclass(frozen=True, eq=False, repr=False)
class Credential(CredentialInfo):
    """A stored credential; its values stay encrypted until a method asks for them."""

    _secret: bytes
    _passphrase: bytes | None
    _ring: KeyRing

    def _open(self, blob: bytes, purpose: Purpose) -> str:
        plain = self._ring.decrypt(blob, purpose=purpose, table=TABLE_NAME, row_id=str(self.id))
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedValue(f"stored {purpose.value} of {self.name!r} is not UTF-8") from None

    def secret(self) -> str:
        """Decrypt the password or the private key text (as stored: maybe still encrypted)."""
        return self._open(self._secret, SECRET_PURPOSE[self.kind])

    def passphrase(self) -> str | None:
        """Decrypt the private key's passphrase, or None when the key has none."""
        if self._passphrase is None:
            return None
        return self._open(self._passphrase, Purpose.PASSPHRASE)

    def parsed_key(self) -> ParsedKey:
        """Decrypt and load the private key, checking it is still the key that was stored."""
        if self.kind is not Kind.PRIVATE_KEY:
            raise InvalidCredential(f"credential {self.name!r} is a password, not a private key")
        parsed = load_private_key(self.secret(), self.passphrase())
        if parsed.fingerprint != self.fingerprint:
            raise CredentialError(
                f"credential {self.name!r} decrypts to a key whose fingerprint "
                f"({parsed.fingerprint}) differs from the stored one ({self.fingerprint})"
            )
        return parsed

    def private_key(self) -> paramiko.PKey:
        """The key as a paramiko PKey, built in memory (never written to disk)."""
        return self.parsed_key().to_paramiko()

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credential cannot be pickled")


@dataclass(frozen=True)
class VerifyFailure:
    """A credential that did not decrypt (or load) with the configured keys."""

    name: str
    error: str  # the exception class, e.g. "IntegrityError"
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: how many rows were checked and which failed."""

    checked: int
    failures: tuple[VerifyFailure, ...]

    @property
    def ok(self) -> bool:
        """Whether every row decrypted."""
        return not self.failures


@dataclass(frozen=True)
class KeyUsage:
    """Rows stored under one key id and which configured key (if any) that is."""

    key_id: str
    rows: int
    role: str  # "active", "previous #N", "UNKNOWN"


@dataclass(frozen=True)
class VaultStatus:
    """Rows per key id: the active key first, then previous keys, then unknown ones."""

    active_key_id: str
    active_source: str
    keys: tuple[KeyUsage, ...] = field(default_factory=tuple)

    @property
    def rows_total(self) -> int:
        """Every stored credential."""
        return sum(k.rows for k in self.keys)

    @property
    def rows_on_previous_keys(self) -> int:
        """Rows that ``rotate`` would move to the active key."""
        return sum(k.rows for k in self.keys if k.role not in ("active", UNKNOWN))

    @property
    def unknown_keys(self) -> tuple[KeyUsage, ...]:
        """Key ids in use that no configured key has."""
        return tuple(k for k in self.keys if k.role == UNKNOWN)

    @property
    def rows_on_unknown_keys(self) -> int:
        """Rows no configured key can decrypt."""
        return sum(k.rows for k in self.unknown_keys)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, shared by ``vault status --json`` and the health section."""
        return {
            "active_key_id": self.active_key_id,
            "active_key_source": self.active_source,
            "rows_total": self.rows_total,
            "rows_on_previous_keys": self.rows_on_previous_keys,
            "rows_on_unknown_keys": self.rows_on_unknown_keys,
            "keys": [{"key_id": k.key_id, "rows": k.rows, "key": k.role} for k in self.keys],
        }


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn "relation does not exist" into VaultNotMigrated; other errors pass through."""
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42P01":
            raise VaultNotMigrated() from None
        raise


def check_name(name: object) -> str:
    """Validate a credential name: 1-128 characters, no spaces, starting alphanumeric."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidCredential(
            "a credential name is 1-128 characters: letters, digits and . _ @ : + / -, "
            "starting with a letter or digit"
        )
    return name


def username_problem(username: object) -> str | None:
    """What is wrong with a login name (None when it is fine or absent); shared with the SSH
    plugin's server records."""
    if username is None or username == "":
        return None
    if (
        not isinstance(username, str)
        or len(username) > MAX_USERNAME_LENGTH
        or not username.isprintable()
        or any(c.isspace() for c in username)
    ):
        return f"a username is up to {MAX_USERNAME_LENGTH} printable characters without spaces"
    return None


def _check_username(username: object) -> str | None:
    problem = username_problem(username)
    if problem:
        raise InvalidCredential(problem)
    return username or None  # type: ignore[return-value]


def _password_bytes(password: object) -> bytes:
    if not isinstance(password, str):
        raise InvalidCredential("a password must be text")
    if not password:
        raise InvalidCredential("the password is empty; an SSH password cannot be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidCredential(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    if "\n" in password or "\r" in password or "\x00" in password:
        raise InvalidCredential("the password contains a line break or NUL character")
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCredential("the password is not valid Unicode text") from None


_INFO_COLUMNS = (
    t.c.id,
    t.c.name,
    t.c.kind,
    t.c.username,
    t.c.fingerprint,
    t.c.key_id,
    t.c.passphrase.isnot(None).label("has_passphrase"),
    t.c.version,
    t.c.created_at,
    t.c.updated_at,
)


def _info(row: Any) -> CredentialInfo:
    return CredentialInfo(
        id=row.id,
        name=row.name,
        kind=Kind(row.kind),
        username=row.username,
        fingerprint=row.fingerprint,
        key_id=bytes(row.key_id),
        has_passphrase=bool(row.has_passphrase),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class CredentialStore:
    """Put, get, list, delete, verify and count credentials; one instance per app."""

    def __init__(self, engine: Engine, keyring: KeyRing) -> None:
        """Use ``engine`` (the database plugin's) and ``keyring`` (built once from config)."""
        self.engine = engine
        self.keyring = keyring

    def __repr__(self) -> str:
        return f"CredentialStore({TABLE_NAME}, {self.keyring!r})"

    # -- writes ---------------------------------------------------------------------------

    def put(
        self,
        name: str,
        kind: Kind | str,
        secret: str | bytes,
        *,
        username: str | None = None,
        passphrase: str | None = None,
        replace: bool = True,
    ) -> CredentialInfo:
        """Store (or, with ``replace``, overwrite in place) a password or a private key."""
        name = check_name(name)
        username = _check_username(username)
        try:
            kind = Kind(kind)
        except ValueError:
            raise InvalidCredential("kind must be 'password' or 'private_key'") from None
        fingerprint: str | None = None
        sealed_passphrase: bytes | None = None
        if kind is Kind.PASSWORD:
            if passphrase:
                raise InvalidCredential("a password credential has no passphrase")
            plain = _password_bytes(secret)
        else:
            parsed = load_private_key(secret, passphrase)  # PrivateKeyError: refused, typed
            plain = parsed.private_key_text.encode("ascii")
            fingerprint = parsed.fingerprint
            if parsed.encrypted and passphrase:
                sealed_passphrase = passphrase.encode("utf-8")
        ring = self.keyring

        def sealed(row_id: uuid.UUID) -> dict[str, Any]:
            site = {"table": TABLE_NAME, "row_id": str(row_id)}
            return {
                "kind": kind.value,
                "username": username,
                "fingerprint": fingerprint,
                "key_id": ring.active.key_id,
                "secret": ring.encrypt(plain, purpose=SECRET_PURPOSE[kind], **site),
                "passphrase": None
                if sealed_passphrase is None
                else ring.encrypt(sealed_passphrase, purpose=Purpose.PASSPHRASE, **site),
            }

        with translate_errors():
            for _ in range(3):
                with self.engine.begin() as conn:
                    # The row lock serialises with rotate(): whoever writes last wins whole.
                    existing = conn.execute(
                        select(t.c.id).where(t.c.name == name).with_for_update()
                    ).scalar_one_or_none()
                    if existing is not None:
                        if not replace:
                            raise CredentialExists(name)
                        row = conn.execute(
                            update(t)
                            .where(t.c.id == existing)
                            .values(
                                **sealed(existing),
                                version=t.c.version + 1,
                                updated_at=func.now(),
                            )
                            .returning(*_INFO_COLUMNS)
                        ).one()
                        return _info(row)
                    new_id = uuid.uuid4()
                    row = conn.execute(
                        pg_insert(t)
                        .values(id=new_id, name=name, version=1, **sealed(new_id))
                        .on_conflict_do_nothing(index_elements=[t.c.name])
                        .returning(*_INFO_COLUMNS)
                    ).first()
                    if row is not None:
                        return _info(row)
                # Lost an insert race on the name: the next round sees the winner's row.
        raise CredentialError(f"credential {name!r} kept changing while being stored; retry")

    def delete(self, name: str) -> bool:
        """Delete a credential; False when there was none by that name."""
        try:
            with translate_errors(), self.engine.begin() as conn:
                return conn.execute(t.delete().where(t.c.name == name)).rowcount > 0
        except sa_exc.IntegrityError as exc:
            # foreign_key_violation (NO ACTION) or restrict_violation (ON DELETE RESTRICT)
            if getattr(exc.orig, "pgcode", None) in ("23503", "23001"):
                raise CredentialInUse(name) from None
            raise

    # -- reads ----------------------------------------------------------------------------

    def _credential(self, row: Any) -> Credential:
        return Credential(
            id=row.id,
            name=row.name,
            kind=Kind(row.kind),
            username=row.username,
            fingerprint=row.fingerprint,
            key_id=bytes(row.key_id),
            has_passphrase=row.passphrase is not None,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            _secret=bytes(row.secret),
            _passphrase=None if row.passphrase is None else bytes(row.passphrase),
            _ring=self.keyring,
        )

    def get(self, name: str) -> Credential:
        """The credential called ``name`` (values still encrypted), or CredentialNotFound."""
        with translate_errors(), self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        if row is None:
            raise CredentialNotFound(name)
        return self._credential(row)

    def private_key(self, name: str) -> paramiko.PKey:
        """The private key stored as ``name``, loaded into paramiko from memory."""
        return self.get(name).private_key()

    def list(self) -> list[CredentialInfo]:
        """Every credential's description, by name; no secret is read."""
        with translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(select(*_INFO_COLUMNS).order_by(t.c.name)).all()
        return [_info(row) for row in rows]

    def _pages(self) -> Iterator[list[Any]]:
        last: str | None = None
        while True:
            query = select(t).order_by(t.c.name).limit(_PAGE)
            if last is not None:
                query = query.where(t.c.name > last)
            with translate_errors(), self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            yield rows
            last = rows[-1].name

    def verify(self, on_failure: Callable[[VerifyFailure], None] | None = None) -> VerifyResult:
        """Decrypt every row (and load every key) with the configured keys; list failures."""
        checked, failures = 0, []
        for rows in self._pages():
            for row in rows:
                checked += 1
                credential = self._credential(row)
                try:
                    credential.secret()
                    credential.passphrase()
                    if credential.kind is Kind.PRIVATE_KEY:
                        credential.parsed_key()
                except (VaultError, PrivateKeyError) as exc:
                    failure = VerifyFailure(credential.name, type(exc).__name__, str(exc))
                    failures.append(failure)
                    if on_failure is not None:
                        on_failure(failure)
        return VerifyResult(checked, tuple(failures))

    def table_exists(self) -> bool:
        """Whether the migration that creates the credentials table has been applied."""
        with self.engine.connect() as conn:
            found = conn.execute(text("SELECT to_regclass(:name)"), {"name": TABLE_NAME})
            return found.scalar() is not None

    def key_counts(self) -> dict[bytes, int]:
        """Rows per key id, straight from the indexed column."""
        with translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(select(t.c.key_id, func.count()).group_by(t.c.key_id)).all()
        return {bytes(key_id): count for key_id, count in rows}

    def status(self) -> VaultStatus:
        """Rows per key id named active / previous #N (listed even at 0 rows) / UNKNOWN."""
        counts = self.key_counts()
        ring = self.keyring
        usage = [KeyUsage(k.hex(), counts.pop(k, 0), key_role(ring, k)) for k in ring.key_ids()]
        # The implicit development fallback is listed only while rows still use it.
        usage = [u for u in usage if u.rows or u.role != JWT_PREVIOUS_ROLE]
        unknown = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        usage += [KeyUsage(k.hex(), n, UNKNOWN) for k, n in unknown]
        return VaultStatus(ring.active.key_id_hex, active_source(ring), tuple(usage))
