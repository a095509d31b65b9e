"""First-party plugin ``mail``: outgoing e-mail over SMTP.

Siblings use ``mailer()``: the app's ``MailService`` (``send``, ``send_message``, ``probe``),
or the shortcut ``ocore_mail.service.send_mail``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of
from ocore_mail.settings import CROSS_RULES, MailSettings

if TYPE_CHECKING:
    from flask import Flask

    from ocore_mail.service import MailService

_EXPORTS = {
    "MailError": "ocore_mail.sender",
    "MailService": "ocore_mail.service",
    "send_mail": "ocore_mail.service",
}
__all__ = ["mailer", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

plugin = Plugin(
    "mail",
    "SMTP mail: TLS done right, a development sink, health.",
    settings=MailSettings,
    cross_rules=CROSS_RULES,
    hooks={
        "init_app": "ocore_mail.service:init_app",
        "health_contributors": "ocore_mail.health:contributors",
        "cli_commands": "ocore_mail.cli:commands",
        "dev_services": "ocore_mail.dev:dev_services",
    },
)


def mailer(app: Flask | None = None) -> MailService:
    """The app's mail service (default: ``current_app``'s)."""
    return service_of(plugin, app)
