"""``ocore users``: create the first admin and manage users from the command line.

Passwords are read from a hidden prompt (asked twice) on a terminal, else as one line from
standard input (``printf '%s\\n' "$PW" | ocore users add …``); never from an argument, which
``ps`` and shell history would show.
"""

from __future__ import annotations

import sys
from typing import Any

import click

import ocore_auth
from ocore_auth.errors import AuthError
from ocore_auth.passwords import MAX_LENGTH, RULE
from ocore_auth.schema import ROLES
from ocore_auth.users import User, normalise_email
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, fail, json_option, known_errors, table
from ocore_flask.invocation import invoked


def read_password(prompt: str = "Password") -> str:
    """The new password: hidden prompt twice on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        # Prompts on stderr: stdout stays the command's result (`--json > user.json`).
        return click.prompt(
            f"{prompt} ({RULE})", hide_input=True, confirmation_prompt=True, err=True
        )
    line = sys.stdin.readline(MAX_LENGTH + 2)
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        fail("no password on standard input: pipe one line, or run on a terminal to be asked")
    return password


def _role_choice() -> click.Choice:
    return click.Choice(ROLES)


def _summary(user: User) -> str:
    state = "disabled" if user.disabled else "enabled"
    return f"{user.email} ({user.role}, {state})"


@click.group("users")
def users_group() -> None:
    """Users of the API and dashboard: roles, passwords, sessions."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=_role_choice(), required=True, help="admin, operator or viewer.")
@json_option
@with_app(needs=("auth",))
def add_command(email: str, role: str, as_json: bool) -> None:
    """Create user EMAIL with ROLE; the password is asked for (or read from stdin)."""
    with known_errors(AuthError):
        email = normalise_email(email)  # both checked before asking for a password twice
        taken = ocore_auth.auth().users.find(email)
        if taken is not None:
            fail(f"a user with the address {taken.email} already exists")
        password = read_password()
        user = ocore_auth.auth().add_user(email, role, password)
    emit(
        {"added": user.email, "user": user.public()},
        as_json,
        f"Added {_summary(user)}. Log in with POST /api/auth/login.",
    )


@users_group.command("list")
@json_option
@with_app(needs=("auth",))
def list_command(as_json: bool) -> None:
    """List users: role, state, last login."""
    with known_errors(AuthError):
        found = ocore_auth.auth().users.all()

    def text() -> str | None:
        if not found:
            return f"No users. Create the first admin: `{invoked('users add EMAIL --role admin')}`"
        rows = [
            (
                u.email,
                u.role,
                "disabled" if u.disabled else "enabled",
                u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "never",
            )
            for u in found
        ]
        table(("EMAIL", "ROLE", "STATE", "LAST LOGIN"), rows)
        return None

    emit([u.public() for u in found], as_json, text)


def _change(as_json: bool, verb: str, user: User) -> None:
    key = verb.replace(" ", "_")  # a key scripts can name: "role_changed", not "role changed"
    text = f"{verb.capitalize()}: {_summary(user)}"
    emit({key: user.email, "user": user.public()}, as_json, text)


@users_group.command("passwd")
@click.argument("email")
@json_option
@with_app(needs=("auth",))
def passwd_command(email: str, as_json: bool) -> None:
    """Set EMAIL's password (ends every session of the user)."""
    with known_errors(AuthError):
        ocore_auth.auth().users.require(email)
        password = read_password("New password")
        user = ocore_auth.auth().set_password(email, password)
    _change(as_json, "password changed", user)


@users_group.command("disable")
@click.argument("email")
@json_option
@with_app(needs=("auth",))
def disable_command(email: str, as_json: bool) -> None:
    """Disable EMAIL: no login, no refresh, sessions ended."""
    with known_errors(AuthError):
        user = ocore_auth.auth().set_disabled(email, True)
    _change(as_json, "disabled", user)


@users_group.command("enable")
@click.argument("email")
@json_option
@with_app(needs=("auth",))
def enable_command(email: str, as_json: bool) -> None:
    """Enable EMAIL again."""
    with known_errors(AuthError):
        user = ocore_auth.auth().set_disabled(email, False)
    _change(as_json, "enabled", user)


@users_group.command("role")
@click.argument("email")
@click.argument("role", type=_role_choice(), metavar="ROLE")
@json_option
@with_app(needs=("auth",))
def role_command(email: str, role: str, as_json: bool) -> None:
    """Give EMAIL another ROLE (applies to their next requests within AUTH_USER_CACHE_TTL)."""
    with known_errors(AuthError):
        user = ocore_auth.auth().set_role(email, role)
    _change(as_json, "role changed", user)


@users_group.command("revoke")
@click.argument("email")
@json_option
@with_app(needs=("auth",))
def revoke_command(email: str, as_json: bool) -> None:
    """End every session of EMAIL (refresh tokens revoked, access tokens refused)."""
    with known_errors(AuthError):
        user = ocore_auth.auth().revoke(email)
    _change(as_json, "sessions revoked", user)


def commands() -> list[Any]:
    """The ``cli_commands`` hook."""
    return [users_group]
