"""``ocore agents``: add (the token printed once), rotate-token, revoke, list, show, each with
``--json``; one-line errors; the token never appears anywhere but in the answer that issues it.
The same actions through the admins' API, guarded by the auth plugin."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

import ocore_agents
import ocore_ssh
from ocore_agents.cli import agents_group
from ocore_agents.testing import PLUGINS, create_server, push_body, set_last_seen, truncate
from ocore_agents.tokens import TOKEN_RE
from ocore_auth.testing import bearer, create_user
from ocore_flask import create_app

Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, agents_env: dict[str, str], agents_app: Flask) -> Invoke:
    """``cli("list", "--json")``: ``ocore agents …`` in-process on the module's database,
    emptied first, with server ``web1`` in it."""
    for name, value in agents_env.items():
        monkeypatch.setenv(name, value)
    truncate(agents_app)
    create_server(agents_app, "web1")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            agents_group,
            list(args),
            obj=ScriptInfo(create_app=lambda: create_app(plugins=list(PLUGINS))),
            prog_name="ocore agents",
        )

    return invoke


def one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_add_prints_the_token_once_and_it_pushes(cli, agents_app) -> None:
    text = cli("add", "web1")
    assert text.exit_code == 0, text.output
    tokens = TOKEN_RE.findall(text.stdout)
    assert len(tokens) == 1 and "ocore-agent --url" in text.stdout
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    pushed = agents_app.test_client().post("/api/agents/push", json=push_body(), headers=headers)
    assert pushed.status_code == 204
    for args in (("list",), ("list", "--json"), ("show", "web1"), ("show", "web1", "--json")):
        shown = cli(*args)
        assert shown.exit_code == 0 and tokens[0] not in shown.output
        assert not TOKEN_RE.search(shown.output)
    listing = json.loads(cli("list", "--json").stdout)
    assert [(a["server"], a["status"], a["pushes"]) for a in listing] == [("web1", "online", 1)]
    detail = json.loads(cli("show", "web1", "--json").stdout)
    assert detail["snapshot"] == push_body() and detail["version"] == "0.1.0"
    row = cli("list").stdout.splitlines()[1].split()
    assert row[:2] == ["web1", "online"] and row[3] == "ago" and row[-1] == "1"


def test_json_answers_and_the_lifecycle(cli, agents_app) -> None:
    added = json.loads(cli("add", "web1", "--json").stdout)
    assert TOKEN_RE.fullmatch(added["token"]) and added["status"] == "never"
    one_line_error(cli("add", "web1"), "already has an agent", "rotate-token")
    rotated = json.loads(cli("rotate-token", "web1", "--json").stdout)
    assert rotated["token"] != added["token"] and rotated["previous_token_valid_until"]
    set_last_seen(agents_app, "web1", 1000)
    assert json.loads(cli("show", "web1", "--json").stdout)["status"] == "offline"
    revoked = json.loads(cli("revoke", "web1", "--json").stdout)
    assert revoked["status"] == "revoked" and revoked["previous_token_valid_until"] is None
    assert "token" not in revoked
    one_line_error(cli("rotate-token", "web1"), "revoked", "agents add web1")
    again = json.loads(cli("add", "web1", "--json").stdout)
    assert again["status"] == "never" and again["pushes"] == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("add", "nope"), ("no server named 'nope'", "ssh list")),
        (("show", "web1"), ("has no agent", "agents add web1")),
        (("rotate-token", "web1"), ("has no agent",)),
        (("revoke", "web1"), ("has no agent",)),
    ],
)
def test_errors_are_one_line(cli, args, fragments) -> None:
    one_line_error(cli(*args), *fragments)


def test_an_empty_list(cli) -> None:
    assert "No agents" in cli("list").stdout
    assert json.loads(cli("list", "--json").stdout) == []


def test_the_admin_api(agents_app) -> None:
    truncate(agents_app)
    create_server(agents_app, "web1")
    client = agents_app.test_client()
    viewer = bearer(agents_app, create_user(agents_app, "viewer-agents@example.com", "viewer"))
    admin = bearer(agents_app, create_user(agents_app, "admin-agents@example.com", "admin"))
    assert client.get("/api/agents").status_code == 401
    assert client.get("/api/agents", headers=viewer).status_code == 403
    assert client.post("/api/agents", json={"server": "web1"}, headers=viewer).status_code == 403
    added = client.post("/api/agents", json={"server": "web1"}, headers=admin)
    assert added.status_code == 201 and added.headers["Cache-Control"] == "no-store"
    token = added.get_json()["token"]
    assert TOKEN_RE.fullmatch(token)
    push = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/agents/push", json=push_body(), headers=push).status_code == 204
    assert client.post("/api/agents", json={"server": "web1"}, headers=admin).status_code == 409
    assert client.post("/api/agents", json={"server": "nope"}, headers=admin).status_code == 404
    assert client.post("/api/agents", json={"server": ""}, headers=admin).status_code == 422
    listing = client.get("/api/agents", headers=admin).get_json()
    assert [(a["server"], a["status"]) for a in listing] == [("web1", "online")]
    assert token not in json.dumps(listing)
    shown = client.get("/api/agents/web1", headers=admin).get_json()
    assert shown["snapshot"]["containers"][0]["name"] == "web"
    assert client.get("/api/agents/nope", headers=admin).status_code == 404
    rotated = client.post("/api/agents/web1/rotate-token", headers=admin)
    assert rotated.status_code == 200 and rotated.get_json()["token"] not in (token, None)
    revoked = client.post("/api/agents/web1/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert client.post("/api/agents/web1/rotate-token", headers=admin).status_code == 409
    assert client.post("/api/agents/web1/revoke", headers=viewer).status_code == 403
    assert ocore_agents.agents(agents_app).get("web1").status == "revoked"


def test_deleting_the_server_deletes_its_agent(cli, agents_app) -> None:
    assert cli("add", "web1").exit_code == 0
    assert ocore_ssh.ssh(agents_app).delete("web1")
    assert json.loads(cli("list", "--json").stdout) == []
