"""Naming a command as the operator invoked it: ``ocore vault …`` or ``flask ocore vault …``.

Messages that tell the operator what to run next, in any plugin, call
``invoked("vault rotate")``. Inside a click command the prefix is the ``ocore``
group's own command path as typed; anywhere else (a server, a health check) it is ``ocore``.
Click is consulted only when already loaded, so this costs nothing outside the CLI.
"""

from __future__ import annotations

import sys

__all__ = ["DEFAULT_PREFIX", "invoked", "prefix"]

DEFAULT_PREFIX = "ocore"
_GROUP = "ocore"  # the name of the host's command group, under both `ocore` and `flask`


def prefix() -> str:
    """The ``ocore`` group's command path as invoked (``ocore``, ``flask ocore``), else
    ``ocore`` outside a command."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    while ctx is not None:
        if ctx.command.name == _GROUP or ctx.info_name == _GROUP:
            return ctx.command_path or DEFAULT_PREFIX
        ctx = ctx.parent
    return DEFAULT_PREFIX


def invoked(rest: str) -> str:
    """``rest`` (e.g. ``"ssh pin web1"``) after the invoked prefix: ``ocore ssh pin web1``."""
    return f"{prefix()} {rest}"
