"""The errors of managed-server operations: bad input, unknown or duplicate names, a server
still referenced by another plugin's rows, an unusable credential, a missing table."""

from __future__ import annotations

from ocore_flask.invocation import invoked
from ocore_ssh.hostkeys import SSHError
from ocore_ssh.schema import TABLE_NAME


class ServerError(SSHError):
    """A managed-server operation was refused (bad input, unknown server, unusable credential)."""


class ServerNotFound(ServerError, LookupError):
    """No server has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no server named {name!r}; `{invoked('ssh list')}` shows the servers, "
            f"`{invoked('ssh add')}` adds one",
            server=name,
        )


class ServerExists(ServerError):
    """``add`` found the name taken."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a server named {name!r} already exists", server=name)


class ServerInUse(ServerError):
    """``delete`` was refused: another plugin's rows still name the server (a foreign key
    declared ``ON DELETE RESTRICT``, e.g. backup policies)."""

    def __init__(self, name: str, table: str | None) -> None:
        where = f"rows in {table}" if table else "other rows"
        super().__init__(
            f"server {name!r} is still used by {where}; remove those first, then the server",
            server=name,
        )


class InvalidServer(ServerError, ValueError):
    """A name, host, port, username or host key given to ``add`` is not acceptable."""


class CredentialUnusable(ServerError):
    """The server's vault credential is missing, cannot be decrypted, or cannot log in."""


class ServersNotMigrated(ServerError):
    """The servers table does not exist yet."""

    def __init__(self) -> None:
        super().__init__(
            f"the {TABLE_NAME} table does not exist; run `{invoked('db upgrade')}` first"
        )
