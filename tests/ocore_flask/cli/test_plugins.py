"""``ocore plugins list [--json]`` as a real process: the stable shape, disabled plugins,
problems, and that it works while the configuration is broken."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from ocore_flask.testing import JWT_SECRET, base_env, run, script

FIRST_PARTY = {"database", "vault", "mail", "ssh", "auth", "jobs", "agents", "backups", "gateway"}
NEEDS_SSH = "agents,backups,gateway"
KEYS = [
    "name",
    "distribution",
    "version",
    "description",
    "enabled",
    "active",
    "core",
    "requires",
    "error",
    "hooks",
    "settings",
    "health_sections",
    "commands",
    "routes",
    "tasks",
]
# Broken on purpose (production, JWT_SECRET in the wrong variable): listing must still work.
BROKEN = {"ENVIRONMENT": "production", "JWT_SECRETS": JWT_SECRET}
COMMANDS = {
    "json": (["ocore", "plugins", "list", "--json"], BROKEN),
    "flask": (["flask", "--app", "wsgi", "ocore", "plugins", "list", "--json"], {}),
    "disabled": (
        ["ocore", "plugins", "list", "--json"],
        {"OCORE_DISABLED_PLUGINS": f"ssh,mail,{NEEDS_SSH}"},
    ),
    "dependants": (["ocore", "plugins", "list", "--json"], {"OCORE_DISABLED_PLUGINS": "ssh"}),
    "text": (["ocore", "plugins", "list"], {**BROKEN, "OCORE_DISABLED_PLUGINS": "sms"}),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess[str]]:
    def execute(argv: list[str], extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return run([script(argv[0]), *argv[1:]], base_env(extra), timeout=20)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(execute, *spec) for key, spec in COMMANDS.items()}
        return {key: future.result() for key, future in futures.items()}


def plugins_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    data = json.loads(result.stdout)
    assert set(data) == {"plugins", "problems"}
    return {row["name"]: row for row in data["plugins"]}


@pytest.mark.parametrize("key", ["json", "flask"])
def test_json_shape(runs, key: str) -> None:
    result = runs[key]
    assert result.returncode == 0, result.stderr
    plugins = plugins_of(result)
    assert set(plugins) >= FIRST_PARTY
    for row in plugins.values():
        assert list(row) == KEYS
    assert json.loads(result.stdout)["problems"] == []
    database, ssh = plugins["database"], plugins["ssh"]
    assert database["distribution"] == "ocore-flask" and database["version"]
    assert (database["enabled"], database["active"], database["core"]) == (True, True, True)
    assert database["error"] is None
    assert "DATABASE_URL" in database["settings"] and "DB_POOL_MAX_CONNS" in database["settings"]
    assert database["health_sections"] == ["database"] and "db" in database["commands"]
    assert sorted(ssh["requires"]) == ["database", "vault"] and ssh["core"] is False
    assert plugins["vault"]["settings"] == ["SSH_ENCRYPTION_KEY", "SSH_ENCRYPTION_KEY_PREVIOUS"]
    assert "SMTP_HOST" in plugins["mail"]["settings"]


def test_disabled_plugins_are_listed_as_disabled(runs) -> None:
    result = runs["disabled"]
    assert result.returncode == 0, result.stderr
    plugins = plugins_of(result)
    for name in ("ssh", "mail"):
        assert (plugins[name]["enabled"], plugins[name]["active"]) == (False, False)
    assert "SMTP_HOST" in plugins["mail"]["settings"], "a disabled plugin still shows its settings"
    assert plugins["vault"]["active"] is True


def test_disabling_a_required_plugin_names_its_dependants_and_the_fix(runs) -> None:
    result = runs["dependants"]
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    for name in NEEDS_SSH.split(","):
        (line,) = [p["message"] for p in problems if p["variable"] == f"plugin:{name}"]
        assert "requires plugin 'ssh', which is disabled by OCORE_DISABLED_PLUGINS" in line
        assert f"disable {name} too, or enable ssh again" in line


def test_text_listing_with_an_unknown_disabled_name(runs) -> None:
    result = runs["text"]
    assert result.returncode == 1, "a problem with the plugin set is a failure"
    lines = result.stdout.splitlines()
    heads = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    assert set(heads) >= FIRST_PARTY
    assert "ocore-flask" in heads["database"] and "[active, core]" in heads["database"]
    assert "settings: DATABASE_URL" in result.stdout
    assert "requires: database" in result.stdout
    assert "OCORE_DISABLED_PLUGINS" in result.stderr and "'sms'" in result.stderr
    assert "Traceback" not in result.stderr
    assert JWT_SECRET not in result.stdout + result.stderr
