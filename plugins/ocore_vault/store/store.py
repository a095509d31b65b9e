"""CredentialStore: put, get, list, delete, verify and count rows over the shared engine."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paramiko
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ocore_vault.crypto import KeyRing, Purpose, VaultError
from ocore_vault.keyring import JWT_PREVIOUS_ROLE, UNKNOWN, active_source, key_role
from ocore_vault.privatekeys import PrivateKeyError, load_private_key
from ocore_vault.schema import TABLE_NAME, credentials

from .errors import (
    CredentialError,
    CredentialExists,
    CredentialInUse,
    CredentialNotFound,
    InvalidCredential,
    translate_errors,
)
from .keycache import KeyCache
from .records import SECRET_PURPOSE, Credential, CredentialInfo, CredentialKind
from .references import referring_rows
from .reports import KeyUsage, VaultStatus, VerifyFailure, VerifyResult
from .validation import check_name, check_username, password_bytes

_PAGE = 500

t = credentials


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
        kind=CredentialKind(row.kind),
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
        self.keys = KeyCache()  # decrypted private keys, per stored version

    def __repr__(self) -> str:
        return f"CredentialStore({TABLE_NAME}, {self.keyring!r})"

    # -- writes ---------------------------------------------------------------------------

    def put(
        self,
        name: str,
        kind: CredentialKind | str,
        secret: str | bytes,
        *,
        username: str | None = None,
        passphrase: str | None = None,
        replace: bool = True,
    ) -> CredentialInfo:
        """Store (or, with ``replace``, overwrite in place) a password or a private key."""
        name = check_name(name)
        username = check_username(username)
        try:
            kind = CredentialKind(kind)
        except ValueError:
            raise InvalidCredential("kind must be 'password' or 'private_key'") from None
        fingerprint: str | None = None
        sealed_passphrase: bytes | None = None
        if kind is CredentialKind.PASSWORD:
            if passphrase:
                raise InvalidCredential("a password credential has no passphrase")
            plain = password_bytes(secret)
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
                gone = conn.execute(t.delete().where(t.c.name == name).returning(t.c.id)).all()
        except sa_exc.IntegrityError as exc:
            # foreign_key_violation (NO ACTION) or restrict_violation (ON DELETE RESTRICT)
            if getattr(exc.orig, "pgcode", None) in ("23503", "23001"):
                raise CredentialInUse(name, referring_rows(self.engine, name)) from None
            raise
        for (row_id,) in gone:
            self.keys.discard(row_id)
        return bool(gone)

    # -- reads ----------------------------------------------------------------------------

    def _credential(self, row: Any) -> Credential:
        return Credential(
            id=row.id,
            name=row.name,
            kind=CredentialKind(row.kind),
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
            _keys=self.keys,
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
                    if credential.kind is CredentialKind.PRIVATE_KEY:
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
