"""The reference ocore agent: collects a managed server's figures (``/proc``, ``statvfs``, the
Docker socket) and pushes them to ``POST /api/agents/push`` of an ocore backend.

Standard library only, and nothing of the server side: it runs on managed servers where only
a Python 3.11+ interpreter can be assumed. Entry point: the ``ocore-agent`` console script
(``python -m ocore_agent`` works too).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ocore-flask")
except PackageNotFoundError:  # run from a copied folder, not an installed distribution
    __version__ = "0.0.0+unknown"
