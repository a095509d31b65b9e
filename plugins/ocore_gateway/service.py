"""The gateway service (the plugin's per-app state): its settings and stores, in the web app
and in the ``ocore gateway`` process alike. No connection is opened here; the SSH server
itself lives in ``ocore_gateway.server`` and is started only by ``ocore gateway``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

import ocore_auth
import ocore_database
import ocore_ssh
import ocore_vault
from ocore_gateway.audit import AuditStore, HeartbeatStore
from ocore_gateway.errors import GrantError
from ocore_gateway.hostkey import HostKeys
from ocore_gateway.pubkeys import parse_public_key
from ocore_gateway.settings import GatewaySettings
from ocore_gateway.store import GrantStore, KeyInfo, KeyStore, may_reach


def init_app(app: Flask, settings: GatewaySettings) -> GatewayService:
    """The app's gateway service over the shared engine and the vault."""
    return GatewayService(app, settings)


@dataclass(frozen=True)
class Added:
    """A key just registered, and advice about it (a short RSA key)."""

    key: KeyInfo
    warning: str | None


class GatewayService:
    """Keys, grants, the audit trail, heartbeats and the host key of one app."""

    def __init__(self, app: Flask, settings: GatewaySettings) -> None:
        """Stores over the database plugin's engine; the host key through the vault."""
        engine = ocore_database.engine(app)
        self.app = app
        self.settings = settings
        self.keys = KeyStore(engine)
        self.grants = GrantStore(engine)
        self.audit = AuditStore(engine)
        self.heartbeats = HeartbeatStore(engine)
        self.host_keys = HostKeys(engine, ocore_vault.credentials(app))

    def __repr__(self) -> str:
        state = "enabled" if self.settings.enabled else "disabled"
        return f"<GatewayService {state} on {self.settings.listen}>"

    # -- the sibling services this one leans on ----------------------------------------------

    @property
    def users(self) -> Any:
        """The auth plugin's user store (find by e-mail, get by id)."""
        return ocore_auth.auth(self.app).users

    @property
    def servers(self) -> Any:
        """The SSH plugin's managed servers (get by name: ``LookupError`` when unknown)."""
        return ocore_ssh.ssh(self.app).servers

    @property
    def vault(self) -> Any:
        """The vault's credential store (the managed servers' logins)."""
        return ocore_vault.credentials(self.app)

    # -- keys and grants ---------------------------------------------------------------------

    def add_key(self, email_or_id: str | int, text: str) -> Added:
        """Check and register a public key for a user (by e-mail or id)."""
        user = self._user(email_or_id)
        key = parse_public_key(text)
        return Added(self.keys.add(user.id, key), key.warning)

    def grant(self, email: str, server: str) -> bool:
        """Let a viewer reach ``server``; False when they already could by grant."""
        user = self.users.require(email)
        found = self.servers.get(server)  # LookupError naming the command that lists servers
        if may_reach(user.role, granted=False):
            raise GrantError(
                f"{user.email} is {user.role}: that role reaches every server, no grant needed"
            )
        return self.grants.grant(user.id, found.name)

    def revoke(self, email: str, server: str) -> bool:
        """Take a viewer's grant away; False when there was none."""
        return self.grants.revoke(self.users.require(email).id, server)

    def _user(self, email_or_id: str | int) -> Any:
        if isinstance(email_or_id, int):
            user = self.users.get(email_or_id)
            if user is None:
                raise LookupError(f"no user has the id {email_or_id}")
            return user
        return self.users.require(email_or_id)
