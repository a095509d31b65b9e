"""The suite's root: every fixture comes from the installed test kits (pytest plugins
``ocore_flask``, ``ocore_database``, ``ocore_ssh``, ``ocore_mail``); this file only switches the
isolated environment on for every test and runs the suite from the repository root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated(isolated_environ: object) -> None:
    """Nothing from the developer's shell (a DATABASE_URL, a JWT_SECRET…) leaks into a test."""


@pytest.fixture(autouse=True, scope="session")
def _repository_root(pytestconfig: pytest.Config) -> Iterator[Path]:
    """Subprocesses (``wsgi:app``, ``flask --app``) resolve modules from the repository root."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(pytestconfig.rootpath)
        yield pytestconfig.rootpath
