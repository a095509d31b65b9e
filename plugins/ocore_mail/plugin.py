"""The mail plugin: SMTP sending with the seed's defaults, a dev sink, ``ocore mail``."""

from __future__ import annotations

from ocore_flask.plugin import Plugin
from ocore_mail.settings import RULES, SETTINGS


class MailPlugin(Plugin):
    """Sender service, ``ocore mail test``, the ``mail`` health section."""

    name = "mail"
    description = "SMTP mail: TLS done right, a development sink, health."
    settings = SETTINGS
    rules = RULES
