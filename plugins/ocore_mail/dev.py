"""``ocore dev``: start the development mail sink when nothing answers on SMTP_HOST:SMTP_PORT.

Only for a loopback host (``localhost`` is served on 127.0.0.1): a remote SMTP server is never
stood in for. When something already listens there (Mailpit, MailHog, another ``ocore dev``)
it is used as is, with a warning: this server's mail then lands there, not in its instance
folder. Invalid ``SMTP_HOST``/``SMTP_PORT`` values start nothing: the configuration report
that follows names them. The sink needs aiosmtpd (the ``dev`` extra): this module is the only
one that loads it, and only ``ocore dev`` loads this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ocore_flask.config import kinds, rules
from ocore_flask.manager import PluginManager
from ocore_flask.serving.ports import port_in_use

if TYPE_CHECKING:
    from ocore_mail.sink import MailSink

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
        log.warning(
            "mail: something else already listens on %s:%d (SMTP_PORT), so this ocore dev "
            "starts no mail sink: its mail goes to that server (another ocore dev's sink, "
            "Mailpit...), not to %s; set SMTP_PORT to a free port for a sink of its own",
            configured,
            port,
            instance / MAIL_DIR,
        )
        yield None
        return
    try:
        from ocore_mail.sink import MailSink
    except ImportError as exc:
        log.warning(
            "mail: no development sink (%s: install the dev extra, pip install "
            "'ocore-flask[dev]'); sending mail will fail until an SMTP server listens on %s:%d",
            exc,
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
