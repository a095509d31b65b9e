"""Plugin discovery: ordering by ``requires``, disabling, and every conflict reported with both
owners; then the real entry points this distribution installs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
import pytest

from ocore_flask import create_app, discovery
from ocore_flask.config import ConfigError, Setting, kinds, make_section
from ocore_flask.discovery import load_commands, load_contributors, load_plugins
from ocore_flask.health.contributor import HealthContributor, ok
from ocore_flask.plugin import Plugin
from ocore_flask.testing import JWT_SECRET


def make(
    name: str, *, requires=(), core=False, settings=(), sections=(), commands=(), **hooks
) -> Plugin:
    """A small plugin declaration for an explicit plugin list."""
    return Plugin(
        name,
        requires=tuple(requires),
        core=core,
        settings=make_section(
            "FakeSettings", [Setting(n, kinds.text(), f"{n} of {name}") for n in settings]
        )
        if settings
        else None,
        hooks={
            "health_contributors": lambda: [HealthContributor(s, lambda: ok()) for s in sections],
            "cli_commands": lambda: [click.Command(c) for c in commands],
            **hooks,
        },
    )


def names(plugins: list[Any]) -> list[str]:
    return [p.name for p in plugins]


def messages(found: discovery.PluginManager, variable: str | None = None) -> list[str]:
    return [p.message for p in found.problems if variable is None or p.variable == variable]


# --- ordering -----------------------------------------------------------------------------


def test_no_requirements_orders_by_name() -> None:
    found = load_plugins({}, [make("zeta"), make("alpha"), make("mid")])
    assert names(found.active) == ["alpha", "mid", "zeta"]
    assert found.problems == []


def test_requirements_come_first_ties_by_name() -> None:
    plugins = [
        make("ssh", requires=["vault", "database"]),
        make("vault", requires=["database"]),
        make("database", core=True),
        make("mail"),
        make("audit", requires=["database"]),
    ]
    found = load_plugins({}, plugins)
    assert names(found.active) == ["database", "audit", "mail", "vault", "ssh"]
    assert found.problems == []


def test_a_plugin_becomes_ready_only_after_all_its_requirements() -> None:
    found = load_plugins({}, [make("b", requires=["c"]), make("a"), make("c", requires=["a"])])
    assert names(found.active) == ["a", "c", "b"]


def test_a_missing_requirement_is_reported() -> None:
    found = load_plugins({}, [make("backups", requires=["storage"]), make("mail")])
    (message,) = messages(found, "plugin:backups")
    assert "requires plugin 'storage'" in message and "not installed" in message


def test_a_disabled_requirement_is_reported_as_disabled() -> None:
    env = {"OCORE_DISABLED_PLUGINS": "vault"}
    found = load_plugins(env, [make("vault"), make("ssh", requires=["vault"])])
    (message,) = messages(found, "plugin:ssh")
    assert "requires plugin 'vault'" in message and "disabled by OCORE_DISABLED_PLUGINS" in message
    assert "vault" not in names(found.active)


def test_a_cycle_is_reported_and_its_members_left_out() -> None:
    plugins = [make("a", requires=["b"]), make("b", requires=["a"]), make("c")]
    found = load_plugins({}, plugins)
    (message,) = messages(found)
    assert "a, b" in message and "cycle" in message
    assert names(found.active) == ["c"]


def test_a_plugin_requiring_itself_is_a_cycle() -> None:
    found = load_plugins({}, [make("loop", requires=["loop"])])
    assert any("cycle" in m for m in messages(found))
    assert found.active == []


# --- duplicates ---------------------------------------------------------------------------


def test_duplicate_plugin_names_are_reported() -> None:
    found = load_plugins({}, [make("mail"), make("mail")])
    (problem,) = found.problems
    assert problem.variable == "plugin:mail"
    assert "two plugins are named 'mail'" in problem.message


def test_duplicate_setting_names_name_both_owners() -> None:
    found = load_plugins(
        {}, [make("alpha", settings=["SHARED_X"]), make("beta", settings=["SHARED_X"])]
    )
    (message,) = messages(found)
    assert "setting 'SHARED_X' is declared by both alpha and beta" in message
    owners = [s.owner for s in found.settings if s.name == "SHARED_X"]
    assert owners == ["alpha"]


def test_a_plugin_cannot_take_over_a_host_setting() -> None:
    found = load_plugins({}, [make("evil", settings=["JWT_SECRET"])])
    (message,) = messages(found, "plugin:evil")
    assert "setting 'JWT_SECRET' is declared by both host and evil" in message
    assert [s.owner for s in found.settings if s.name == "JWT_SECRET"] == ["host"]


def test_duplicate_health_sections_name_both_owners() -> None:
    found = load_plugins({}, [make("one", sections=["queue"]), make("two", sections=["queue"])])
    assert messages(found) == [], "health sections are collected when an app is built"
    assert [(owner, c.name) for owner, c in load_contributors(found)] == [("one", "queue")]
    (message,) = messages(found)
    assert "health section 'queue' is declared by both one and two" in message


def test_duplicate_and_reserved_commands_name_both_owners() -> None:
    plugins = [make("one", commands=["sync"]), make("two", commands=["sync", "config"])]
    found = load_plugins({}, plugins)
    assert messages(found) == [], "commands are collected only for the command line"
    load_commands(found)
    assert sorted(messages(found)) == [
        "command 'config' is declared by both host and two",
        "command 'sync' is declared by both one and two",
    ]


def test_duplicates_stop_startup_with_every_problem(dev_env) -> None:
    plugins = [make("one", settings=["SHARED_X"]), make("two", settings=["SHARED_X"]), make("one")]
    with pytest.raises(ConfigError) as info:
        create_app(dev_env, plugins)
    text = str(info.value)
    assert "two plugins are named 'one'" in text
    assert "declared by both one and two" in text


@pytest.mark.parametrize("hook_name", ["health_contributors", "cli_commands"])
def test_a_failing_declaration_hook_is_a_problem_naming_the_plugin(hook_name: str) -> None:
    def fail():
        raise ImportError("No module named 'broken.cli'")

    broken = make("broken", **{hook_name: fail})
    found = load_plugins({}, [broken, make("mail")])  # must not raise
    load_commands(found)  # must not raise either
    load_contributors(found)
    (problem,) = found.problems
    assert problem.variable == "plugin:broken"
    assert "broken" in problem.message and "broken.cli" in problem.message
    assert "OCORE_DISABLED_PLUGINS" in problem.message


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["Mail", "my-plugin", "1st", ""])
def test_invalid_plugin_names_are_reported(bad: str) -> None:
    found = load_plugins({}, [make(bad)])
    assert any("lowercase" in m for m in messages(found))
    assert found.active == []


# --- OCORE_DISABLED_PLUGINS ---------------------------------------------------------------


def test_disabled_plugins_are_dropped_with_their_declarations() -> None:
    env = {"OCORE_DISABLED_PLUGINS": "mail"}
    found = load_plugins(env, [make("mail", settings=["MAIL_X"], sections=["mail"]), make("ssh")])
    assert names(found.active) == ["ssh"]
    assert found.problems == []
    assert "MAIL_X" not in {s.name for s in found.settings}
    assert load_contributors(found) == []
    assert found.record("mail").enabled is False


def test_disabling_an_unknown_plugin_is_an_error() -> None:
    env = {"OCORE_DISABLED_PLUGINS": "mial"}
    found = load_plugins(env, [make("mail"), make("ssh")])
    (problem,) = found.problems
    assert problem.variable == "OCORE_DISABLED_PLUGINS"
    assert "'mial'" in problem.message and "installed: mail, ssh" in problem.message
    assert names(found.active) == ["mail", "ssh"]


def test_a_core_plugin_cannot_be_disabled() -> None:
    env = {"OCORE_DISABLED_PLUGINS": "database"}
    found = load_plugins(env, [make("database", core=True), make("mail")])
    (problem,) = found.problems
    assert problem.variable == "OCORE_DISABLED_PLUGINS"
    assert "core plugin" in problem.message and "cannot be disabled" in problem.message
    assert names(found.active) == ["database", "mail"]


def test_a_malformed_disabled_list_is_left_to_the_report() -> None:
    found = load_plugins({"OCORE_DISABLED_PLUGINS": "Mail!"}, [make("mail")])
    assert names(found.active) == ["mail"] and found.problems == []


# --- entry points (faked) -----------------------------------------------------------------


@dataclass
class FakeDist:
    name: str
    version: str


@dataclass
class FakeEntryPoint:
    name: str
    target: Any
    dist: FakeDist

    def load(self) -> Any:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


@pytest.fixture
def installed(monkeypatch):
    """Replace the entry-point group with the given fake entry points."""

    def install(*eps: FakeEntryPoint) -> None:
        monkeypatch.setattr(discovery, "entry_points", lambda group: list(eps))

    return install


def test_entry_point_plugins_carry_distribution_and_version(installed) -> None:
    installed(
        FakeEntryPoint("alpha", make("alpha"), FakeDist("acme-alpha", "1.2.3")),
        FakeEntryPoint("beta", make("beta"), FakeDist("acme-beta", "0.1")),
    )
    found = load_plugins({})
    assert found.record("alpha").label == "alpha (acme-alpha 1.2.3)"
    assert found.record("beta").label == "beta (acme-beta 0.1)"
    assert names(found.active) == ["alpha", "beta"]


def test_an_entry_point_that_is_not_a_plugin_declaration_is_reported(installed) -> None:
    class OldStyle:
        name = "oldstyle"

    installed(FakeEntryPoint("oldstyle", OldStyle, FakeDist("acme-old", "0.1")))
    found = load_plugins({})
    (message,) = messages(found, "plugin:oldstyle")
    assert "not an ocore_flask.Plugin declaration" in message and "acme-old" in message
    assert found.active == []


def test_duplicate_entry_point_names_name_both_distributions(installed) -> None:
    installed(
        FakeEntryPoint("mail", make("mail"), FakeDist("ocore-flask", "0.1.0")),
        FakeEntryPoint("mail", make("mail"), FakeDist("acme-mail", "2.0")),
    )
    (message,) = messages(load_plugins({}))
    assert "mail (ocore-flask 0.1.0)" in message and "mail (acme-mail 2.0)" in message


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(installed) -> None:
    installed(
        FakeEntryPoint(
            "broken", ImportError("No module named 'acme_dep'"), FakeDist("acme", "9.9")
        ),
        FakeEntryPoint("mail", make("mail"), FakeDist("ocore-flask", "0.1.0")),
    )
    found = load_plugins({})
    (problem,) = found.problems
    assert problem.variable == "plugin:broken"
    for part in ("broken (acme 9.9)", "ImportError", "acme_dep", "OCORE_DISABLED_PLUGINS=broken"):
        assert part in problem.message
    assert names(found.active) == ["mail"]


def test_a_broken_plugin_can_be_switched_off(installed) -> None:
    installed(FakeEntryPoint("broken", RuntimeError("boom"), FakeDist("acme", "9.9")))
    found = load_plugins({"OCORE_DISABLED_PLUGINS": "broken"})
    assert found.problems == [] and found.active == []


def test_an_entry_point_name_must_match_the_plugins_name(installed) -> None:
    installed(FakeEntryPoint("alias", make("real"), FakeDist("acme", "1")))
    (message,) = messages(load_plugins({}))
    assert "equal its entry-point name" in message and "'real'" in message


# --- the real entry points ----------------------------------------------------------------


def test_first_party_plugins_are_discovered() -> None:
    found = load_plugins({})
    first_party = {"database", "vault", "mail", "ssh"}
    records = {r.name: r for r in found.records if r.name in first_party}
    assert set(records) == first_party
    for record in records.values():
        assert (record.distribution, record.error, record.enabled) == ("ocore-flask", None, True)
        assert record.version
    order = names(found.active)
    assert order.index("database") < order.index("vault") < order.index("ssh")
    assert records["database"].core and not records["mail"].core


def test_first_party_settings_have_their_owners() -> None:
    owners = {s.name: s.owner for s in load_plugins({}).settings}
    assert owners["JWT_SECRET"] == "host"
    assert owners["DATABASE_URL"] == owners["DB_POOL_MAX_CONNS"] == "database"
    assert owners["SSH_ENCRYPTION_KEY"] == owners["SSH_ENCRYPTION_KEY_PREVIOUS"] == "vault"
    assert owners["SMTP_HOST"] == owners["SMTP_PASSWORD"] == "mail"


def test_real_database_plugin_cannot_be_disabled() -> None:
    found = load_plugins({"OCORE_DISABLED_PLUGINS": "database"})
    assert any("core plugin" in m for m in messages(found, "OCORE_DISABLED_PLUGINS"))
    assert "database" in names(found.active)


def test_real_discovery_with_an_unknown_disabled_name() -> None:
    found = load_plugins({"OCORE_DISABLED_PLUGINS": "sms"})
    (message,) = messages(found, "OCORE_DISABLED_PLUGINS")
    assert "'sms'" in message and "database" in message and "vault" in message


def test_a_missing_requirement_stops_startup() -> None:
    environ = {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}
    with pytest.raises(ConfigError) as info:
        create_app(environ, [make("a", requires=["b"])])
    assert [p.variable for p in info.value.report.errors] == ["plugin:a"]
