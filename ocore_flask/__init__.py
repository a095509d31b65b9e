"""ocore-flask: the oCore backend foundation (configuration, plugins, health) for Flask."""

from importlib.metadata import PackageNotFoundError, version

from ocore_flask.app import close_app, create_app
from ocore_flask.errors import ConfigError, PluginError, StartupError
from ocore_flask.plugin import Plugin

try:
    __version__ = version("ocore-flask")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConfigError",
    "Plugin",
    "PluginError",
    "StartupError",
    "__version__",
    "close_app",
    "create_app",
]
