"""``DATABASE_URL``: parse and check a PostgreSQL URL without ever echoing its password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from ocore_flask.redact import redact_query, secret_query_values

SCHEMES = ("postgres", "postgresql")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
ENCODE_HINT = (
    "URL-encode special characters in the user name and password (@ → %40, : → %3A, / → %2F)"
)


@dataclass(frozen=True)
class DatabaseURL:
    """A checked PostgreSQL URL; ``repr`` and ``redacted`` never show the password."""

    raw: str
    host: str
    port: int
    database: str
    user: str | None
    password: str | None
    sslmode: str | None

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted})"

    __str__ = __repr__

    @property
    def redacted(self) -> str:
        """The URL with its password (in the user info) and the value of every secret-named
        query parameter (``password``, ``sslpassword``…, as ``ocore_flask.redact`` names
        them) as ***."""
        parts = urlsplit(self.raw)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc, query=redact_query(parts.query)))

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the scheme SQLAlchemy's psycopg2 dialect expects."""
        return "postgresql+psycopg2" + self.raw[self.raw.index("://") :]

    @property
    def where(self) -> str:
        """host:port/database, for messages (no credentials)."""
        return f"{self.host}:{self.port}/{self.database}"

    def secret_parts(self) -> list[str]:
        """What scrubbing must remove: the URL, the password and every secret-named query
        parameter's value (``sslpassword``…), encoded and decoded."""
        parts = [self.raw]
        if self.password:
            parts += [self.password, quote(self.password, safe="")]
        parts += secret_query_values(urlsplit(self.raw).query)
        return list(dict.fromkeys(parts))


def parse_database_url(raw: str) -> DatabaseURL:
    """Parse ``raw``; ValueError messages say what is wrong and never include the password."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError("must start with postgres:// or postgresql://")
    authority = rest.split("/", 1)[0] if "@" not in rest else rest.rsplit("@", 1)[0]
    if "@" in rest:
        userinfo = authority
        if any(ch in userinfo for ch in "@/?#") or userinfo.count(":") > 1:
            raise ValueError(f"has unencoded special characters in its credentials: {ENCODE_HINT}")
    try:
        parts = urlsplit(raw)
        port = parts.port or 5432
    except ValueError:
        raise ValueError(
            f"has an invalid host or port (if the password has special characters: {ENCODE_HINT})"
        ) from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    host = parts.hostname or query.get("host", "")
    if not host:
        raise ValueError("has no host: postgres://USER:PASSWORD@HOST:5432/DATABASE")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError("has no database name: postgres://USER:PASSWORD@HOST:5432/DATABASE")
    sslmode = query.get("sslmode")
    if sslmode is not None and sslmode not in SSLMODES:
        raise ValueError(f"has an unknown sslmode; use one of {', '.join(SSLMODES)}")
    password = unquote(parts.password) if parts.password is not None else query.get("password")
    return DatabaseURL(
        raw=raw,
        host=host,
        port=port,
        database=database,
        user=unquote(parts.username) if parts.username else None,
        password=password,
        sslmode=sslmode,
    )
