"""First-party plugin ``mail``: outgoing e-mail over SMTP."""

from ocore_mail.plugin import MailPlugin

plugin = MailPlugin()
