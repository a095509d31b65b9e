"""The agents service (the plugin's per-app state): register agents for the ssh plugin's
servers, rotate and revoke their tokens, take their pushes, and summarise them for health."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine

import ocore_database
import ocore_ssh
from ocore_agents.errors import AgentError, AgentNotFound
from ocore_agents.settings import AgentsSettings
from ocore_agents.store import Agent, AgentStore, Issued, PushOutcome
from ocore_agents.tokens import well_formed
from ocore_flask.invocation import invoked

WORST = 5  # names of the stalest agents in the health section


def init_app(app: Flask, settings: AgentsSettings) -> AgentService:
    """The app's agents service over the shared engine and the ssh plugin's servers."""
    from ocore_agents import api

    api.register(app)  # the agent token's security scheme in the OpenAPI document
    return AgentService(ocore_database.engine(app), settings, ocore_ssh.ssh(app))


class AgentService:
    """Agents of managed servers: tokens, pushes, statuses."""

    def __init__(self, engine: Engine, settings: AgentsSettings, ssh: Any) -> None:
        """Use ``engine`` for the agents table and ``ssh`` (the ssh plugin's service) to
        check that a server exists before registering its agent."""
        self.settings = settings
        self.ssh = ssh
        self.store = AgentStore(engine, settings.push_interval.to_timedelta())

    def __repr__(self) -> str:
        return f"<AgentService interval={self.settings.push_interval}>"

    @property
    def interval_seconds(self) -> float:
        """AGENT_PUSH_INTERVAL in seconds: what every push answer tells the agent."""
        return self.settings.push_interval.seconds

    def register(self, server: str) -> Issued:
        """Register the agent of managed server ``server``; its token is in the result only."""
        try:
            self.ssh.servers.get(server)
        except LookupError:
            raise AgentNotFound(
                f"no server named {server!r}; `{invoked('ssh list')}` shows the servers, "
                f"`{invoked('ssh add')}` adds one"
            ) from None
        except ocore_ssh.SSHError as exc:
            raise AgentError(str(exc)) from None
        return self.store.register(server)

    def rotate_token(self, server: str) -> Issued:
        """A new token; the previous one keeps working for AGENT_TOKEN_GRACE."""
        return self.store.rotate(server, self.settings.token_grace.to_timedelta())

    def revoke(self, server: str) -> Agent:
        """Stop accepting pushes from ``server``'s agent (every token of it)."""
        return self.store.revoke(server)

    def get(self, server: str) -> Agent:
        """``server``'s agent, with its last snapshot."""
        return self.store.get(server)

    def list(self) -> list[Agent]:
        """Every agent, by server name."""
        return self.store.list()

    def push(self, token: str | None, body: dict[str, Any]) -> PushOutcome:
        """Record a validated push from the holder of ``token`` (one statement)."""
        if not well_formed(token):
            return PushOutcome(False, False)
        assert token is not None
        return self.store.push(token, body, self.settings.push_min_interval.to_timedelta())

    def summary(self) -> dict[str, Any]:
        """The health section's figures (one query)."""
        return self.store.summary(WORST)
