"""The hook specifications: every hook a plugin may implement, in one place.

A plugin lists the hooks it implements in its declaration (``Plugin(hooks={...})``), each as a
callable or as an ``"module:attribute"`` import path resolved on first use, so that loading a
declaration imports nothing heavy. The plugin manager (``ocore_flask.manager``) is the only
caller; it rejects a hook name that no specification knows (naming the closest one) and a
callable whose signature does not take the specified arguments.

A plugin may specify hooks of its own for other plugins to implement (the database plugin
owns ``migrations``); they are declared with ``Plugin(hookspecs=(HookSpec(...),))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOST = "host"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class HookSpec:
    """One hook: its name, the arguments it is called with, what it returns, who owns it."""

    name: str
    params: tuple[str, ...]
    doc: str
    returns: str = "None"
    owner: str = HOST

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"hook name {self.name!r} must be lowercase [a-z][a-z0-9_]*")


HOST_HOOKS: tuple[HookSpec, ...] = (
    HookSpec(
        "init_app",
        ("app", "settings"),
        "Set up the plugin for one app, Flask-extension style; ``settings`` is the plugin's "
        "typed settings section (None when it declares none). What it returns is the plugin's "
        "service for that app, handed out by the plugin's accessor.",
        returns="the plugin's service, or None",
    ),
    HookSpec(
        "close",
        ("app",),
        "Release what ``init_app`` acquired (connections, threads), in reverse init order.",
    ),
    HookSpec(
        "health_contributors",
        (),
        "Sections of the rich health payload (declarations only, no I/O).",
        returns="a sequence of HealthContributor",
    ),
    HookSpec(
        "cli_commands",
        (),
        "Click commands mounted under ``ocore`` / ``flask ocore``.",
        returns="a sequence of click.Command",
    ),
    HookSpec(
        "api_blueprints",
        (),
        "flask-smorest blueprints registered on the app's Api, so their endpoints appear in "
        "/api/openapi.json.",
        returns="a sequence of flask_smorest.Blueprint",
    ),
    HookSpec(
        "tasks",
        (),
        "Background tasks the plugin offers to the job queue (names are namespaced by plugin).",
        returns="a sequence of ocore_flask.tasks.Task",
    ),
    HookSpec(
        "dev_services",
        ("environ", "instance", "plugins"),
        "``ocore dev`` only, before the app is built: start a local stand-in (an embedded "
        "database, a mail sink) in the instance folder and yield the variables it answers, "
        "e.g. {'DATABASE_URL': ...}. ``environ`` is read-only; ``plugins`` is the active "
        "plugin set, so no plugin runs discovery again.",
        returns="a context manager yielding a mapping of variables",
        owner="ocore dev",
    ),
)
