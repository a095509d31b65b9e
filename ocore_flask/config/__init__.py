"""The config core: declarations, parsing, validation and reports.

Public API for plugins: ``Setting``, ``REQUIRED``, ``PerMode``, ``Derived``, ``Check``,
``CrossRule``, ``Kind``, ``section`` and ``setting`` (typed settings sections), the ``kinds`` and
``rules`` modules, ``Duration`` and ``parse_duration``.
"""

from ocore_flask.config import kinds, rules
from ocore_flask.config.declarations import (
    REQUIRED,
    Check,
    Context,
    CrossRule,
    Derived,
    Kind,
    PerMode,
    Setting,
)
from ocore_flask.config.durations import Duration, DurationError, parse_duration
from ocore_flask.config.loader import Config, load, resolve
from ocore_flask.config.modes import Mode
from ocore_flask.config.report import Problem, Report
from ocore_flask.config.secrets import Secret, reveal
from ocore_flask.config.sections import make_section, section, setting, settings_of
from ocore_flask.errors import ConfigError

__all__ = [
    "REQUIRED",
    "Check",
    "Config",
    "ConfigError",
    "Context",
    "CrossRule",
    "Derived",
    "Duration",
    "DurationError",
    "Kind",
    "Mode",
    "PerMode",
    "Problem",
    "Report",
    "Secret",
    "Setting",
    "kinds",
    "load",
    "make_section",
    "parse_duration",
    "resolve",
    "reveal",
    "rules",
    "section",
    "setting",
    "settings_of",
]
