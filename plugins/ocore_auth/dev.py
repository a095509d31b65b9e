"""``ocore dev``: a development admin, so a fresh checkout can log in at once.

``admin@ocore.local`` is created on the first run with a generated password kept (0600) in the
instance folder; every run prints how to log in, never the password itself. The hint is printed
on stderr like ``ocore dev``'s banner, not logged: the log scrubber would rightly mask the
``"password":`` part of the command and make it unusable.
"""

from __future__ import annotations

import logging
import secrets
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click

import ocore_auth
from ocore_flask.errors import StartupError
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_auth")

DEV_ADMIN = "admin@ocore.local"
PASSWORD_FILE = "dev-admin-password"  # noqa: S105 (a file name)


def dev_password(instance: Path) -> str:
    """The development admin's password, generated once into the instance folder (0600)."""
    path = instance / PASSWORD_FILE
    kept = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if kept:
        return kept
    instance.mkdir(parents=True, exist_ok=True)
    password = "dev-" + secrets.token_urlsafe(18) + "7"  # a letter and a digit, always
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")
    return password


def server_url(environ: Mapping[str, str]) -> str:
    """Where ``ocore dev`` will listen, as a client on this machine reaches it."""
    host = environ.get("SERVER_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "*"):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{environ.get('SERVER_PORT') or '8080'}"


def login_hint(url: str, password_file: Path) -> str:
    """A curl command that logs the development admin in (the password read from its file)."""
    body = f'{{"email":"{DEV_ADMIN}","password":"\'"$(cat {shlex.quote(str(password_file))})"\'"}}'
    return f"curl -s -X POST {url}/api/auth/login -H 'Content-Type: application/json' -d '{body}'"


@contextmanager
def dev_admin(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: ensure the development admin exists; print how to log in."""
    from ocore_flask.app import close_app, create_app

    # ``plugins.active`` already leaves out OCORE_DISABLED_PLUGINS: naming them again to an app
    # built from that list would be "not an installed plugin".
    settings = {k: v for k, v in environ.items() if k != "OCORE_DISABLED_PLUGINS"}
    try:
        app = create_app(settings, plugins=plugins.active, only=("auth",))
    except StartupError:
        yield {}  # the server's own start reports the configuration problem
        return
    password_file = instance / PASSWORD_FILE
    try:
        service = ocore_auth.auth(app)
        kept = password_file.read_text().strip() if password_file.exists() else ""
        password = dev_password(instance)
        if service.users.find(DEV_ADMIN) is None:
            service.add_user(DEV_ADMIN, "admin", password)
            log.info("auth: created the development admin %s", DEV_ADMIN)
        elif password != kept:  # a new file: the admin gets its password, so the hint works
            service.set_password(DEV_ADMIN, password)
            log.info("auth: new password file for the development admin %s", DEV_ADMIN)
        ready = True
    except Exception as exc:  # a development convenience must not stop ocore dev
        log.warning("auth: no development admin (%s)", type(exc).__name__)
        ready = False
    finally:
        close_app(app)
    if ready:
        click.echo(
            f"\nauth: log in as {DEV_ADMIN} (its password is in {password_file}):\n"
            f"  {login_hint(server_url(environ), password_file)}\n",
            err=True,
        )
    yield {}
