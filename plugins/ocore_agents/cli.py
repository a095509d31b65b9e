"""``ocore agents``: register the agent of a managed server (its token printed once), rotate
its token, revoke it, list the agents with their status, show one with its last snapshot."""

from __future__ import annotations

import json
from typing import Any

import click

import ocore_agents
from ocore_agents.errors import AgentError
from ocore_agents.store import Agent, Issued
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option, known_errors, table
from ocore_flask.health.freshness import format_age
from ocore_flask.invocation import invoked

NEEDS = ("agents",)


def _seen(agent: Agent) -> str:
    if agent.age is None:
        return "never"
    return f"{format_age(agent.age)} ago"


def _issued_text(issued: Issued, verb: str) -> str:
    agent = issued.agent
    lines = [
        f"{verb} the agent of server {agent.server}. Its token, shown this once:",
        "",
        f"    {issued.token}",
        "",
        "On that server, store it in a file only the agent's user can read and run:",
        "    ocore-agent --url https://YOUR-OCORE-HOST --token-file /etc/ocore-agent/token",
    ]
    if agent.previous_token_expires_at is not None:
        until = agent.to_dict()["previous_token_valid_until"]
        lines.append(f"The previous token keeps working until {until}.")
    return "\n".join(lines)


def _issued_json(issued: Issued) -> dict[str, Any]:
    return {**issued.agent.to_dict(), "token": issued.token}


@click.group("agents")
def agents_group() -> None:
    """Agents on managed servers: tokens, status pushes, health."""


@agents_group.command("add")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def add_command(server: str, as_json: bool) -> None:
    """Register the agent of managed server SERVER and print its token (once)."""
    with known_errors(AgentError):
        issued = ocore_agents.agents().register(server)
    emit(_issued_json(issued), as_json, _issued_text(issued, "Registered"))


@agents_group.command("rotate-token")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def rotate_command(server: str, as_json: bool) -> None:
    """Issue a new token for SERVER's agent; the old one works for AGENT_TOKEN_GRACE."""
    with known_errors(AgentError):
        issued = ocore_agents.agents().rotate_token(server)
    emit(_issued_json(issued), as_json, _issued_text(issued, "Rotated the token of"))


@agents_group.command("revoke")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def revoke_command(server: str, as_json: bool) -> None:
    """Revoke SERVER's agent: its tokens stop working at once."""
    with known_errors(AgentError):
        agent = ocore_agents.agents().revoke(server)
    emit(
        agent.to_dict(),
        as_json,
        f"Revoked the agent of server {agent.server}; "
        f"`{invoked('agents add')} {agent.server}` registers it again.",
    )


@agents_group.command("list")
@json_option
@with_app(needs=NEEDS)
def list_command(as_json: bool) -> None:
    """List the agents: status, last push, version, host name."""
    with known_errors(AgentError):
        found = ocore_agents.agents().list()

    def text() -> str | None:
        if not found:
            return f"No agents. Register one with `{invoked('agents add SERVER')}`."
        rows = [
            (a.server, a.status, _seen(a), a.version or "-", a.hostname or "-", a.pushes)
            for a in found
        ]
        table(("SERVER", "STATUS", "LAST PUSH", "VERSION", "HOSTNAME", "PUSHES"), rows)
        return None

    emit([agent.to_dict() for agent in found], as_json, text)


@agents_group.command("show")
@click.argument("server")
@json_option
@with_app(needs=NEEDS)
def show_command(server: str, as_json: bool) -> None:
    """Show SERVER's agent: status, last push, version, and the last snapshot."""
    with known_errors(AgentError):
        agent = ocore_agents.agents().get(server)
    data = agent.to_dict(snapshot=True)

    def text() -> str:
        lines = [
            f"Server:      {agent.server}",
            f"Status:      {agent.status}",
            f"Last push:   {_seen(agent)}" + (f" ({data['last_seen']})" if agent.last_seen else ""),
            f"Pushes:      {agent.pushes}",
            f"Version:     {agent.version or '-'}",
            f"Hostname:    {agent.hostname or '-'}",
            f"Registered:  {data['created_at']}",
        ]
        if agent.token_rotated_at:
            lines.append(f"Rotated:     {data['token_rotated_at']}")
        if agent.previous_token_expires_at:
            lines.append(f"Old token:   valid until {data['previous_token_valid_until']}")
        if agent.revoked_at:
            lines.append(f"Revoked:     {data['revoked_at']}")
        if agent.snapshot is not None:
            lines += ["Snapshot:", json.dumps(agent.snapshot, indent=2, sort_keys=True)]
        return "\n".join(lines)

    emit(data, as_json, text)


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [agents_group]
