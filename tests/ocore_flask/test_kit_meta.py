"""Meta-tests of the plugin kit: the structure the README's "Writing a plugin" promises holds
for the whole tree (hooks documented, typed edges between plugins, no cycles, small modules,
and a ``config check`` that imports no plugin's runtime)."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import pytest

from ocore_database.testing import first_party_plugins
from ocore_flask.discovery import load_plugins
from ocore_flask.hookspecs import HOST_HOOKS
from ocore_flask.testing import JWT_SECRET

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ROOTS = [REPO / "ocore_flask", *sorted((REPO / "plugins").glob("ocore_*"))]
MAX_LINES = 500
HEAVY = (
    "sqlalchemy",
    "psycopg2",
    "paramiko",
    "fabric",
    "cryptography.hazmat",
    "aiosmtpd",
    "alembic",
)


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the host and the first-party plugins."""
    for root in ROOTS:
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def runtime_imports(name: str, path: Path) -> set[str]:
    """Modules imported at module level (``if TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))

    visit(tree.body)
    return found


def first_party_packages() -> list[str]:
    return [p.name for p in ROOTS[1:]]


# --- hooks ------------------------------------------------------------------------------------


def test_every_hook_spec_is_documented_in_code_and_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    specs = list(HOST_HOOKS)
    for plugin in first_party_plugins():
        specs += plugin.hookspecs
    for spec in specs:
        assert len(spec.doc) > 20, f"hook {spec.name} needs a docstring"
        assert f"`{spec.name}" in readme, f"hook {spec.name} missing from the README"


def test_first_party_hooks_resolve_with_the_specified_signatures() -> None:
    found = load_plugins({}, first_party_plugins())
    assert found.problems == []
    for plugin in found.active:
        for name in plugin.hooks:
            found.resolve(plugin, name)  # raises PluginError on a bad path or signature


# --- typed edges, cycles, sizes ---------------------------------------------------------------


def test_plugins_reach_siblings_only_through_their_package() -> None:
    """``import ocore_vault`` / ``from ocore_vault import credentials``: never a sibling's
    internal module (its testing kit excepted)."""
    packages = first_party_packages()
    offences = []
    for name, path in modules():
        own = name.split(".")[0]
        for imported in runtime_imports(name, path):
            other, _, inner = imported.partition(".")
            if other not in packages or other == own or not inner:
                continue
            submodule = inner.split(".")[0]
            folder = REPO / "plugins" / other
            is_module = (folder / submodule).is_dir() or (folder / f"{submodule}.py").is_file()
            if is_module and submodule != "testing":
                offences.append(f"{name} imports {imported}")
    assert offences == []


def test_every_requires_edge_is_an_import_edge_and_back() -> None:
    declared = {p.name: set(p.requires) for p in first_party_plugins()}
    by_package = {f"ocore_{n}": n for n in declared}
    imports: dict[str, set[str]] = {n: set() for n in declared}
    for name, path in modules():
        owner = by_package.get(name.split(".")[0])
        if owner is None or name.split(".")[-1] == "testing" or ".testing" in name:
            continue
        for imported in runtime_imports(name, path):
            target = by_package.get(imported.split(".")[0])
            if target and target != owner:
                imports[owner].add(target)
    for name, requires in declared.items():
        assert imports[name] <= requires, f"{name} imports {imports[name] - requires} unrequired"
        assert requires <= imports[name], f"{name} requires {requires - imports[name]} unused"


def test_there_are_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    known = {name for name, _ in modules()}
    for name, path in modules():
        edges = set()
        for imported in runtime_imports(name, path):
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                edges.add(imported)
        graph[name] = edges
    cycles = [scc for scc in _strongly_connected(graph) if len(scc) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            found.append(sorted(component))

    for node in graph:
        if node not in index:
            connect(node)
    return found


def test_no_module_exceeds_the_size_limit() -> None:
    big = [
        f"{path.relative_to(REPO)} ({n} lines)"
        for _, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert big == []


@pytest.mark.parametrize("package", ["ocore_database", "ocore_vault", "ocore_mail", "ocore_ssh"])
def test_accessors_do_not_shadow_submodules(package: str) -> None:
    """``ocore_vault.store`` would be replaced by the submodule once it is imported."""
    module = import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert set(module.__all__) & submodules == set()


# --- laziness ---------------------------------------------------------------------------------


def test_config_check_imports_no_plugin_runtime(tmp_path: Path) -> None:
    """The declarations are all ``config check`` loads: no SQLAlchemy, psycopg2, paramiko,
    fabric, cryptography's hazmat, aiosmtpd or alembic in ``sys.modules`` when it is done."""
    probe = (
        "import json, sys\n"
        "from ocore_flask.cli import main\n"
        "sys.argv = ['ocore', 'config', 'check', '--json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": "postgres://ocore:pw@127.0.0.1:5432/ocore",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, result.stdout
    loaded = [m for m in report["modules"] if m.startswith(HEAVY)]
    assert loaded == []


def test_the_command_tree_loads_no_migration_machinery() -> None:
    """``ocore --help`` builds every plugin's command group; alembic loads only when a ``db``
    command runs (about 100 ms of a command-line start)."""
    probe = (
        "import json, sys\n"
        "from ocore_flask.cli import main\n"
        "sys.argv = ['ocore', '--help']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["code"] == 0 and "db" in result.stdout
    assert [m for m in report["modules"] if m.split(".")[0] == "alembic"] == []
