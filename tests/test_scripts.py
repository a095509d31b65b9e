"""The README's scripts themselves: ``scripts/venv.sh`` installs only when needed, so a second
``./scripts/dev`` starts without pip's noise. Run for real in bash, against a stand-in venv whose
``python`` records how it was called."""

from __future__ import annotations

import shutil
from pathlib import Path

from ocore_flask.testing import base_env, run

ROOT = Path(__file__).resolve().parent.parent


def _checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the files the stamp is keyed on, and a venv whose python logs its argv."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("setup.py", "pyproject.toml", "scripts/venv.sh"):
        shutil.copy(ROOT / name, checkout / name)
    venv = checkout / ".venv" / "bin"
    venv.mkdir(parents=True)
    log = tmp_path / "calls.log"
    (venv / "python").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (venv / "python").chmod(0o755)
    (venv / "ocore").write_text("#!/bin/sh\n")
    (venv / "ocore").chmod(0o755)
    return checkout, log


def _ensure(checkout: Path, extra: str) -> None:
    result = run(
        ["bash", "-c", f". scripts/venv.sh && ensure_venv {extra}"], base_env(), cwd=checkout
    )
    assert result.returncode == 0, result.stderr


def test_pip_runs_once_then_only_after_setup_py_changes(tmp_path):
    checkout, log = _checkout(tmp_path)
    _ensure(checkout, "dev")
    assert log.read_text().splitlines() == [
        "-m pip install -q --disable-pip-version-check -e .[dev]"
    ]
    _ensure(checkout, "dev")  # nothing changed: no pip, no editable-install banner
    assert len(log.read_text().splitlines()) == 1
    _ensure(checkout, "test")  # another extra is its own install
    assert len(log.read_text().splitlines()) == 2
    with (checkout / "setup.py").open("a") as handle:
        handle.write("\n# a new dependency\n")
    _ensure(checkout, "dev")
    assert len(log.read_text().splitlines()) == 3
