"""Fixtures for the backups tests: an app with the module's sshd added as server ``db1``, a
policy factory, and ``ocore …`` in-process. The rest comes from ``ocore_backups.testing``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

import ocore_backups
from ocore_backups.testing import add_backup_server, backups_plugins
from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_ssh.testing import Sshd

Invoke = Callable[..., Result]


@pytest.fixture
def app(backups_app: Callable[..., Flask], sshd: Sshd, backup_key: str) -> Flask:
    """A backups app whose server ``db1`` is the module's sshd (key login, pinned)."""
    built = backups_app()
    add_backup_server(built, sshd, backup_key)
    return built


@pytest.fixture
def add_policy(app: Flask) -> Callable[..., Any]:
    """``add_policy(name, command, restore="cat > /dev/null", **options)``: a policy on
    ``db1`` (every minute, max age 1h, grace 1h unless given)."""

    def add(name: str, command: str, restore: str = "cat > /dev/null", **options: Any) -> Any:
        values = {"schedule": "* * * * *", "max_age": "1h", "grace": "1h", **options}
        return ocore_backups.backups(app).add_policy(
            name,
            server=options.pop("server", "db1"),
            command=command,
            restore_command=restore,
            **{k: v for k, v in values.items() if k != "server"},
        )

    return add


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, backups_env: dict[str, str], app: Flask) -> Invoke:
    """``cli("backups", "list")``: ``ocore …`` in-process on the test's database and folder."""
    for name, value in backups_env.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str, input: str | None = None) -> Result:
        factory = ScriptInfo(create_app=lambda: create_app(plugins=backups_plugins()))
        return CliRunner().invoke(ocore, list(args), obj=factory, input=input)

    return invoke
