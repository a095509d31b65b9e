"""Commands that need the app build it here: through Flask's ``--app`` when given, else the
factory; a startup error becomes the report on stderr and its exit status."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import ScriptInfo

from ocore_flask.app import close_app, create_app
from ocore_flask.cli.output import exit_startup_error
from ocore_flask.errors import StartupError

F = TypeVar("F", bound=Callable[..., Any])


def load_app() -> Flask:
    """The app for this command (``flask --app X`` wins), or exit with the startup report."""
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx else None
    try:
        if info is not None and (info.app_import_path or info.create_app):
            return info.load_app()
        return create_app()
    except StartupError as exc:
        exit_startup_error(exc)


@contextmanager
def app_context() -> Iterator[Flask]:
    """Build the app, push its context, and release its resources afterwards."""
    app = load_app()
    try:
        with app.app_context():
            yield app
    finally:
        close_app(app)


def with_app(command: F) -> F:
    """Decorator: run the command inside the app's context."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with app_context():
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
