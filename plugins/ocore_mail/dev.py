"""``ocore dev``: start the development mail sink when nothing answers on SMTP_HOST:SMTP_PORT.

Only for a loopback host (``localhost`` is served on 127.0.0.1): a remote SMTP server is never
stood in for. When something already listens there (Mailpit, MailHog, another ``ocore dev``)
it is used as is. Invalid ``SMTP_HOST``/``SMTP_PORT`` values start nothing: the configuration
report that follows names them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ocore_flask.config import kinds, rules
from ocore_flask.manager import PluginManager
from ocore_mail.sink import MailSink, port_in_use

log = logging.getLogger("ocore_mail")

DEFAULT_HOST = "localhost"
DEFAULT_PORT = "1025"
MAIL_DIR = "mail"
AIOSMTPD_LOGGER = "mail.log"  # one INFO line per connection and command: too chatty here


def sink_address(environ: Mapping[str, str]) -> tuple[str, int] | None:
    """The loopback address a sink would serve for these settings, or None (remote/invalid)."""
    try:
        host = kinds.hostname().parse(environ.get("SMTP_HOST") or DEFAULT_HOST)
        port = kinds.port().parse(environ.get("SMTP_PORT") or DEFAULT_PORT)
    except ValueError:
        return None
    if not rules.is_loopback_host(host):
        return None
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    return host, port


@contextmanager
def dev_mail_sink(environ: Mapping[str, str], instance: Path) -> Iterator[MailSink | None]:
    """Run a ``MailSink`` saving to ``instance/mail`` while the block runs, if one is needed."""
    configured = environ.get("SMTP_HOST") or DEFAULT_HOST
    address = sink_address(environ)
    if address is None:
        log.info("mail: sending through %s (not a local address: no development sink)", configured)
        yield None
        return
    host, port = address
    if port_in_use(host, port) or (configured != host and port_in_use(configured, port)):
        log.info(
            "mail: an SMTP server already listens on %s:%d; development mail goes there",
            configured,
            port,
        )
        yield None
        return
    quiet = logging.getLogger(AIOSMTPD_LOGGER)
    level = quiet.level
    quiet.setLevel(max(logging.WARNING, level))
    sink = MailSink(host=host, port=port, directory=instance / MAIL_DIR)
    try:
        sink.start()
    except OSError as exc:
        log.warning("mail: %s; sending mail will fail until an SMTP server listens there", exc)
        quiet.setLevel(level)
        yield None
        return
    try:
        yield sink
    finally:
        sink.stop()
        quiet.setLevel(level)


@contextmanager
def dev_services(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: the sink answers on SMTP_HOST:SMTP_PORT, so it shares no new
    variables."""
    with dev_mail_sink(environ, instance):
        yield {}
