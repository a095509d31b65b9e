"""Startup errors that entry points turn into an exit status and a report, never a traceback."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocore_flask.config.report import Report

EX_UNAVAILABLE = getattr(os, "EX_UNAVAILABLE", 69)
EX_CONFIG = getattr(os, "EX_CONFIG", 78)


class StartupError(Exception):
    """The process cannot start; ``exit_code`` says why to a supervisor."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def render(self) -> str:
        """The text printed to stderr by the entry points."""
        return str(self)


class ConfigError(StartupError):
    """The configuration is invalid; carries the full report (every problem, not the first)."""

    exit_code = EX_CONFIG

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(report.render_text())


class PluginError(StartupError):
    """A plugin failed to load or initialise; the message names it, its distribution and version."""

    exit_code = EX_CONFIG


class ServiceUnavailable(StartupError):
    """A service the app needs (e.g. the database) cannot be reached at startup."""

    exit_code = EX_UNAVAILABLE
