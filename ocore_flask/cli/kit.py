"""The CLI kit every ``ocore`` command uses (the host's and the plugins'):

- one error path: ``CommandError`` prints ONE line on stderr, ``error: <message>``, whitespace
  folded and scrubbed of every configured secret and credential-shaped text, and exits with its
  code; ``known_errors(*types, exit_code=1)`` turns those exceptions (and SQLAlchemy's) into it;
- one table printer: ``table(headers, rows)``;
- one ``--json`` convention: ``@json_option`` adds ``--json`` (parameter ``as_json``) and
  ``emit(result, as_json, text=...)`` prints either one JSON document on stdout or the text;
- ``progress(message)``: a line on stderr for long operations, only when stderr is a terminal
  and ``--json`` is off;
- ``exit_startup_error``: a startup error's report on stderr and its exit status.

Nothing heavy is imported here: Flask and SQLAlchemy are consulted only when already loaded, so
``ocore config check`` stays as light as before.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, NoReturn, TypeVar

import click

from ocore_flask.errors import StartupError
from ocore_flask.redact import Scrubber

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
JSON_META = "ocore.json"  # ctx.meta key: whether this invocation asked for --json


# -- text hygiene -----------------------------------------------------------------------------


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) folded to one space."""
    return " ".join(text.split())


def configured_secrets() -> list[str]:
    """The current app's secret values (``config.secret_values()``), or none outside an app
    context. Flask is not imported for this: without it loaded there is no app context."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return []
    from ocore_flask.state import get_state

    try:
        return get_state().config.secret_values()
    except (KeyError, AttributeError):  # an app without ocore's state
        return []


def scrub(value: Any) -> Any:
    """``value`` (text, or a JSON-able structure) with configured secrets and credential-shaped
    text (URL passwords, tokens, private keys, ``password=…``) masked."""
    return Scrubber(configured_secrets()).scrub(value)


def clean_line(text: str) -> str:
    """One scrubbed line: secrets are masked before whitespace is folded (a secret may span
    lines), and the folded line is scrubbed again for shapes the folding revealed."""
    scrubber = Scrubber(configured_secrets())
    return scrubber.text(one_line(scrubber.text(text)))


# -- errors -----------------------------------------------------------------------------------


class CommandError(click.ClickException):
    """A command failed: ``error: <message>`` on one stderr line, then exit ``exit_code``.

    The message is cleaned when raised (inside the command, where the app's secrets are known)
    and again when shown (credential shapes only: the app may already be closed)."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(clean_line(message) or "unknown error")
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        line = Scrubber().text(one_line(self.format_message()))
        click.echo(f"error: {line}", file=file, err=file is None)


def fail(message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Raise ``CommandError(message, exit_code)``."""
    raise CommandError(message, exit_code)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _database_reason(exc: BaseException) -> str | None:
    """The first line of a SQLAlchemy error's driver error, or None for any other exception.
    SQLAlchemy is imported here only, once an exception is being handled."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy ships with the database plugin
        return None
    if not isinstance(exc, SQLAlchemyError):
        return None
    orig = getattr(exc, "orig", None)
    return _first_line(str(orig if orig is not None else exc)) or type(exc).__name__


@contextmanager
def known_errors(*types: type[BaseException], exit_code: int = EXIT_ERROR) -> Iterator[None]:
    """Turn the expected failures into ``CommandError(exit_code)``: an exception of one of
    ``types`` with its message, a SQLAlchemy error as ``database error: <first line of the
    driver's message>``. Click's own exceptions (usage errors: exit 2) pass through, and so does
    anything unexpected (a bug deserves its traceback)."""
    try:
        yield
    except click.ClickException:
        raise
    except types as exc:
        raise CommandError(str(exc) or type(exc).__name__, exit_code) from None
    except Exception as exc:
        reason = _database_reason(exc)
        if reason is None:
            raise
        raise CommandError(f"database error: {reason}", exit_code) from None


def exit_startup_error(error: StartupError) -> NoReturn:
    """Print a startup error's report to stderr and exit with its status, no traceback."""
    click.echo(error.render(), err=True)
    sys.exit(error.exit_code)


# -- output -----------------------------------------------------------------------------------


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[JSON_META] = bool(value)
    return bool(value)


def json_option(command: F) -> F:
    """Decorator: add ``--json`` (parameter ``as_json``): print one JSON document on stdout."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_json,
        help="Print one JSON document on stdout instead of text.",
    )(command)


def json_requested() -> bool:
    """Whether the running command was given ``--json`` (for callbacks deep in a command)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(JSON_META))


def emit_json(data: Any) -> None:
    """Print ``data`` as one indented JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def emit(result: Any, as_json: bool, text: str | Callable[[], str | None] | None = None) -> None:
    """``result`` as JSON under ``--json``; otherwise ``text``: a string to print, or a
    function that prints (or returns) the human rendering, called only when needed."""
    if as_json:
        emit_json(result)
        return
    rendered = text() if callable(text) else text
    if rendered is not None:
        click.echo(rendered)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns two spaces apart, headers first, no trailing blanks."""
    cells = [[str(cell) for cell in headers]] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print ``format_table(headers, rows)`` on stdout."""
    click.echo(format_table(headers, rows))


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    return stream is not None and stream.isatty()


def progress(message: str) -> None:
    """One progress line on stderr for long operations; silent when stderr is not a terminal
    (scripts, logs) and under ``--json`` (stdout is then one document, stderr errors only)."""
    if not json_requested() and _stderr_is_terminal():
        click.echo(scrub(one_line(message)), err=True)
