"""The mail plugin: SMTP sending with the seed's defaults, a dev sink, ``ocore mail``."""

from __future__ import annotations

from collections.abc import MutableMapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask

from ocore_flask.config import Config
from ocore_flask.health import HealthContributor
from ocore_flask.plugin import Plugin
from ocore_flask.state import get_state
from ocore_mail.service import STATE_KEY, MailService, settings_from
from ocore_mail.settings import RULES, SETTINGS

if TYPE_CHECKING:
    from ocore_mail.sink import MailSink


class MailPlugin(Plugin):
    """Sender service, ``ocore mail test``, the ``mail`` health section, the dev sink."""

    name = "mail"
    description = "SMTP mail: TLS done right, a development sink, health."
    settings = SETTINGS
    rules = RULES

    def init_app(self, app: Flask, config: Config) -> None:
        """Build the app's ``MailService`` from the SMTP settings (no connection yet)."""
        service = MailService(settings_from(config), probe=config["SMTP_HEALTH_PROBE"])
        get_state(app).plugin_state[STATE_KEY] = service

    def close(self, app: Flask) -> None:
        """Forget the service; it holds no connection between sends."""
        get_state(app).plugin_state.pop(STATE_KEY, None)

    def health_contributors(self) -> list[HealthContributor]:
        """The ``mail`` section (not critical)."""
        from ocore_mail.health import CONTRIBUTOR

        return [CONTRIBUTOR]

    def cli_commands(self) -> list[click.Command]:
        """``ocore mail test ADDRESS``."""
        from ocore_mail.cli import mail_group

        return [mail_group]

    def dev_services(
        self, environ: MutableMapping[str, str], instance: Path
    ) -> AbstractContextManager[MailSink | None]:
        """A development sink on SMTP_HOST:SMTP_PORT when it is local and nothing listens."""
        # Imported here: aiosmtpd is only needed by ``ocore dev``.
        from ocore_mail.dev import dev_mail_sink

        return dev_mail_sink(environ, instance)
