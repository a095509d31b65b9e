"""ocore-flask: the oCore backend foundation (configuration, plugins, health) for Flask."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ocore_flask.errors import ConfigError, PluginError, StartupError
from ocore_flask.plugin import Plugin

__all__ = [
    "ConfigError",
    "Plugin",
    "PluginError",
    "StartupError",
    "__version__",
    "close_app",
    "create_app",
]


def __getattr__(name: str) -> Any:
    """``create_app``/``close_app`` load the app machinery on first use, and ``__version__``
    reads the installed metadata on first use, so commands that only read configuration
    (``ocore config check``) start fast."""
    if name in ("create_app", "close_app"):
        from ocore_flask import app

        return getattr(app, name)
    if name == "__version__":
        try:
            return version("ocore-flask")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'ocore_flask' has no attribute {name!r}")
