"""The outside path: the example plugin, installed from its own distribution into a fresh
virtual environment, shows its setting, health section and command without any host change."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ocore_flask.state import get_state
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, assert_contributor_conforms, base_env

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ocore-plugin-example"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv that sees this environment's packages (ocore-flask and its dependencies)
    through a .pth file, and has the example installed on its own."""
    venv = tmp_path_factory.mktemp("venv")
    source = tmp_path_factory.mktemp("src") / "ocore-plugin-example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # addsitedir (not a bare path) so the parent's own .pth files, such as the editable
    # install's finder, are processed too.
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    Path(purelib, "parent-env.pth").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return python


def _flask(python: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "flask", "--app", "wsgi", "ocore", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_setting_appears_in_config_docs(fresh_venv):
    result = _flask(fresh_venv, "config", "docs", env=base_env())
    assert result.returncode == 0, result.stderr
    assert "| `EXAMPLE_GREETING` | example | `hello` |" in result.stdout


def test_command_appears_in_help_and_runs(fresh_venv, database_url):
    help_text = _flask(fresh_venv, "--help", env=base_env())
    assert help_text.returncode == 0, help_text.stderr
    assert "example" in help_text.stdout.split("Commands:", 1)[1]
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": database_url,
            "EXAMPLE_GREETING": "ahoy",
        }
    )
    result = _flask(fresh_venv, "example", "--name", "ops", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ahoy, ops!"


def test_section_appears_in_the_rich_payload(fresh_venv, database_url):
    env = base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": database_url,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        }
    )
    result = _flask(fresh_venv, "health", "--json", env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["checks"]["example"]["status"] == "ok"
    assert payload["checks"]["example"]["data"]["greeting"] == "hello"


def test_plugins_list_shows_the_distribution(fresh_venv):
    result = _flask(fresh_venv, "plugins", "list", "--json", env=base_env())
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["example"]["distribution"] == "ocore-plugin-example"
    assert plugins["example"]["version"] == "0.1.0"
    assert plugins["example"]["settings"] == ["EXAMPLE_GREETING"]
    assert plugins["example"]["health_sections"] == ["example"]
    assert plugins["example"]["commands"] == ["example"]


def test_disabling_the_example_removes_it(fresh_venv):
    result = _flask(
        fresh_venv, "config", "docs", env=base_env({"OCORE_DISABLED_PLUGINS": "example"})
    )
    assert result.returncode == 0 and "EXAMPLE_GREETING" not in result.stdout


@pytest.fixture
def example_plugin() -> Any:
    """The example's plugin object, imported from its source tree (not installed here)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from ocore_plugin_example import plugin
    finally:
        sys.path.remove(str(EXAMPLE))
    return plugin


@pytest.fixture
def app_plugins(example_plugin) -> list:
    """The kit's ``app`` (and so ``client``) holds only the example plugin."""
    return [example_plugin]


def test_example_contributor_passes_the_conformance_check(app, example_plugin, rich_health):
    (contributor,) = get_state(app).plugins.call(example_plugin, "health_contributors")
    assert_contributor_conforms(contributor, app=app, secrets=[JWT_SECRET, HEALTH_TOKEN])
    status, payload = rich_health(app)
    assert status == 200 and payload["checks"]["example"]["status"] == "ok"


def test_the_kit_client_serves_the_anonymous_health(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_conformance_check_catches_a_bad_contributor():
    import time

    from ocore_flask.health import HealthContributor, ok

    def slow_and_leaky():
        time.sleep(0.3)
        return ok({"dsn": f"postgres://u:{JWT_SECRET}@db/x", "when": object()})

    with pytest.raises(AssertionError) as caught:
        assert_contributor_conforms(
            HealthContributor("bad", slow_and_leaky, timeout=0.1), secrets=[JWT_SECRET], slack=0.05
        )
    text = str(caught.value)
    assert "non-JSON" in text and "over its timeout" in text
