"""Fixtures for the mail plugin wired into an app: an environment builder, an app builder.

The CA and its server certificate are the ``ocore_mail.testing`` kit's ``smtp_ca`` and
``smtp_cert``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

import ocore_mail
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET
from ocore_mail.testing import LOOPBACK

MailEnv = Callable[..., dict[str, str]]
MailApp = Callable[..., Flask]


@pytest.fixture(autouse=True)
def quiet_test_servers(caplog: pytest.LogCaptureFixture) -> None:
    """The in-process aiosmtpd servers log every command on ``mail.log``; keep output readable."""
    caplog.set_level(logging.ERROR, logger="mail.log")


@pytest.fixture
def mail_env() -> MailEnv:
    """``mail_env(port, **variables)``: a valid development environment for the mail plugin."""

    def build(port: int, **variables: Any) -> dict[str, str]:
        environ = {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "SMTP_HOST": LOOPBACK,
            "SMTP_PORT": str(port),
            "SMTP_TIMEOUT": "5s",
        }
        environ.update({name: str(value) for name, value in variables.items()})
        return environ

    return build


@pytest.fixture
def mail_app(make_app: Callable[..., Flask]) -> MailApp:
    """``mail_app(environ)``: an app with only the mail plugin, closed after the test."""

    def build(environ: dict[str, str]) -> Flask:
        return make_app(environ, [ocore_mail.plugin])

    return build
