"""The plugin manager: hooks validated once at load (names, signatures, import paths) and
called only through it; a misspelt hook stops ``config check`` with exit 78."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ocore_flask import Plugin, create_app
from ocore_flask.config import ConfigError
from ocore_flask.discovery import load_commands, load_contributors, load_plugins
from ocore_flask.errors import PluginError
from ocore_flask.health import HealthContributor, ok
from ocore_flask.hookspecs import HOST_HOOKS, HookSpec


def problems(found) -> list[str]:
    return [p.message for p in found.problems]


def test_a_misspelt_hook_names_the_plugin_and_the_real_hook() -> None:
    plugin = Plugin("acme", hooks={"health_contributor": lambda: []})
    found = load_plugins({}, [plugin])
    (message,) = problems(found)
    assert "acme" in message
    assert "unknown hook 'health_contributor'" in message
    assert "did you mean 'health_contributors'" in message
    assert found.active == []


def test_an_unknown_hook_far_from_any_lists_the_known_ones() -> None:
    (message,) = problems(load_plugins({}, [Plugin("acme", hooks={"zzz": lambda: []})]))
    assert "unknown hook 'zzz'" in message
    assert all(spec.name in message for spec in HOST_HOOKS)


def test_a_wrong_signature_is_reported_at_load() -> None:
    plugin = Plugin("acme", hooks={"init_app": lambda app: None})
    (message,) = problems(load_plugins({}, [plugin]))
    assert "hook 'init_app' must accept (app, settings)" in message


def test_hooks_written_as_methods_are_refused() -> None:
    class Old(Plugin):
        def health_contributors(self):
            return []

    (message,) = problems(load_plugins({}, [Old("old")]))
    assert "defines method 'health_contributors'" in message
    assert "Plugin(hooks=" in message


@pytest.mark.parametrize("ref", ["no_colon", ":attr", "module:", 42])
def test_a_malformed_reference_is_reported(ref) -> None:
    (message,) = problems(load_plugins({}, [Plugin("acme", hooks={"cli_commands": ref})]))
    assert "must be a callable or 'module:attribute'" in message


def test_an_import_path_that_fails_is_a_problem_of_its_plugin_when_collected() -> None:
    plugin = Plugin("acme", hooks={"health_contributors": "acme_missing.health:contributors"})
    found = load_plugins({}, [plugin])
    assert found.problems == [], "resolved on first use, so config check imports nothing"
    assert load_contributors(found) == []
    (message,) = problems(found)
    assert "acme" in message and "acme_missing" in message
    assert "OCORE_DISABLED_PLUGINS=acme" in message


def test_an_import_path_with_the_wrong_signature_raises_on_use(tmp_path, monkeypatch) -> None:
    (tmp_path / "acme_sig.py").write_text("def init_app(app):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = Plugin("acme", hooks={"init_app": "acme_sig:init_app"})
    found = load_plugins({}, [plugin])
    with pytest.raises(PluginError, match=r"hook 'init_app' must accept \(app, settings\)"):
        found.call(plugin, "init_app", None, None)


def test_a_plugin_may_specify_its_own_hook_for_others() -> None:
    owner = Plugin("owner", hookspecs=(HookSpec("widgets", (), "Widgets.", owner="owner"),))
    user = Plugin("user", requires=("owner",), hooks={"widgets": lambda: ["w"]})
    found = load_plugins({}, [user, owner])
    assert found.problems == []
    assert found.call(user, "widgets") == ["w"]


def test_a_hook_specified_twice_is_reported() -> None:
    spec = HookSpec("init_app", ("app", "settings"), "again")
    (message,) = problems(load_plugins({}, [Plugin("dup", hookspecs=(spec,))]))
    assert "already specified by host" in message


def test_only_keeps_the_named_plugins_and_what_they_require() -> None:
    plugins = [
        Plugin("database", core=True),
        Plugin("vault", requires=("database",)),
        Plugin("ssh", requires=("database", "vault")),
        Plugin("mail"),
    ]
    assert [p.name for p in load_plugins({}, plugins, only=["ssh"]).active] == [
        "database",
        "vault",
        "ssh",
    ]
    assert [p.name for p in load_plugins({}, plugins, only=["mail"]).active] == ["mail"]


def test_init_app_returns_the_service_the_accessor_hands_out(dev_env) -> None:
    from ocore_flask.state import service_of

    plugin = Plugin("svc", hooks={"init_app": lambda app, settings: {"ready": True}})
    other = Plugin("other")
    app = create_app(dev_env, [plugin, other])
    assert service_of(plugin, app) == {"ready": True}
    assert service_of(other, app) is None
    with pytest.raises(RuntimeError, match="plugin 'ghost' is not active"):
        service_of(Plugin("ghost"), app)


def test_blueprints_from_the_hook_appear_in_the_openapi_document(dev_env) -> None:
    from flask_smorest import Blueprint

    blp = Blueprint("widgets", __name__, url_prefix="/api/widgets")

    @blp.route("/")
    def list_widgets():
        return {"widgets": []}

    app = create_app(dev_env, [Plugin("widgets", hooks={"api_blueprints": lambda: [blp]})])
    client = app.test_client()
    assert client.get("/api/widgets/").json == {"widgets": []}
    assert "/api/widgets/" in client.get("/api/openapi.json").json["paths"]


def test_a_misspelt_hook_stops_startup_with_every_problem(dev_env) -> None:
    bad = Plugin("acme", hooks={"health_contributor": lambda: []})
    good = Plugin("fine", hooks={"health_contributors": lambda: [HealthContributor("f", ok)]})
    with pytest.raises(ConfigError) as info:
        create_app(dev_env, [bad, good])
    assert "health_contributors" in str(info.value) and "acme" in str(info.value)


def test_commands_and_contributors_are_collected_once(dev_env) -> None:
    calls = []

    def commands():
        calls.append(1)
        return []

    found = load_plugins({}, [Plugin("once", hooks={"cli_commands": commands})])
    load_commands(found)
    load_commands(found)
    assert calls == [1]


def test_config_check_exits_78_for_a_misspelt_hook_of_an_installed_plugin(tmp_path) -> None:
    """Through a real entry point in a real process: what an operator sees."""
    package = tmp_path / "acme_misspelt"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from ocore_flask import Plugin

            plugin = Plugin("acme", hooks={"health_contributor": lambda: []})
            """
        )
    )
    dist = tmp_path / "acme_misspelt-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-misspelt\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ocore_flask.plugins]\nacme = acme_misspelt:plugin\n")
    env = {
        "PYTHONPATH": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "ENVIRONMENT": "development",
        "JWT_SECRET": "test-jwt-Zq8vL3nR5tW9yB2dF6hK1mP4sX7cV0aE",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ocore_flask", "config", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78, result.stderr
    assert "acme (acme-misspelt 1.0)" in result.stderr
    assert "did you mean 'health_contributors'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_hook_of_a_missing_requirement_is_not_called_unknown() -> None:
    """The spec may belong to the plugin that is missing: that one problem is reported."""
    plugin = Plugin("user", requires=("owner",), hooks={"widgets": lambda: []})
    (message,) = problems(load_plugins({}, [plugin]))
    assert "requires plugin 'owner'" in message
