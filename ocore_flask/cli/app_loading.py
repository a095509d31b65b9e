"""Commands that need the app build it here: through Flask's ``--app`` when given, else the
factory; a startup error becomes the report on stderr and its exit status."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import ScriptInfo

from ocore_flask.app import close_app, create_app
from ocore_flask.cli.kit import exit_startup_error
from ocore_flask.errors import StartupError

F = TypeVar("F", bound=Callable[..., Any])


def load_app(*, needs: Sequence[str] | None = None, repair: bool = False) -> Flask:
    """The app for this command (``flask --app X`` wins), or exit with the startup report.
    ``needs`` builds it with just those plugins (and what they require); ``repair`` marks it
    as built for a repair command (``ocore_flask.state.repair_mode``)."""
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx else None
    try:
        if info is not None and (info.app_import_path or info.create_app):
            return info.load_app()
        return create_app(only=needs, repair=repair)
    except StartupError as exc:
        exit_startup_error(exc)


@contextmanager
def app_context(*, needs: Sequence[str] | None = None, repair: bool = False) -> Iterator[Flask]:
    """Build the app, push its context, and release its resources afterwards."""
    app = load_app(needs=needs, repair=repair)
    try:
        with app.app_context():
            yield app
    finally:
        close_app(app)


def with_app(
    command: F | None = None, *, needs: Sequence[str] | None = None, repair: bool = False
) -> Any:
    """Decorator: run the command inside the app's context. Bare (``@with_app``) builds the
    whole app; ``@with_app(needs=("mail",))`` only the plugins the command uses, so it works
    while an unrelated service (PostgreSQL) is down; ``repair=True`` for repair commands."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with app_context(needs=needs, repair=repair):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(command) if command is not None else decorate
