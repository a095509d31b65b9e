"""EmbeddedPostgresError, and the two retry signals of starting the server."""

from __future__ import annotations


class EmbeddedPostgresError(RuntimeError):
    """Raised when the embedded server cannot be initialised, started or reached."""


class PortInUse(Exception):
    """The chosen port was taken between choosing it and the server binding it."""


class ShmemInUse(Exception):
    """Processes of a crashed server still hold its shared memory: retry shortly."""
