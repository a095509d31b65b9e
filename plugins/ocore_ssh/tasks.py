"""The ssh plugin's task for the job queue: ``ssh.check_servers``, every five minutes.

Each managed server is checked through the app's pool (``ocore_ssh.ssh()``) and the outcome is
stored on its row (``ocore ssh list``, the ``ssh_pool`` health section):

- pinned: log in and run ``true`` (``SSHService.check``): ``ok`` or ``failed`` with the reason;
- not pinned: read its host key without logging in (a background job never trusts a key on
  first use, nor sends a password to an unpinned server): ``unpinned`` when it answers,
  ``failed`` when it does not.

The task itself succeeds even when servers fail: their failure is data, not a job error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ocore_ssh
from ocore_flask.invocation import invoked
from ocore_flask.redact import Scrubber
from ocore_flask.state import get_state
from ocore_flask.tasks import Task

if TYPE_CHECKING:
    from ocore_ssh.servers import Server
    from ocore_ssh.service import SSHService

SCHEDULE = "*/5 * * * *"
MAX_ERROR = 500


def _reason(exc: BaseException, scrubber: Scrubber) -> str:
    text = str(exc).strip() or type(exc).__name__
    return scrubber.text(" ".join(scrubber.text(text).split()))[:MAX_ERROR]


def check_one(service: SSHService, server: Server, scrubber: Scrubber) -> tuple[str, str | None]:
    """(status, error line) for one server; never raises for the server's own problems."""
    try:
        if server.host_key is None:
            service.fetch_host_key(server.name)
            hint = f"host key not pinned yet: `{invoked(f'ssh pin {server.name}')}` pins it"
            return "unpinned", hint
        service.check(server.name)
    except Exception as exc:
        return "failed", _reason(exc, scrubber)
    return "ok", None


def check_servers() -> dict[str, Any]:
    """Check every managed server's reachability and record the outcome on its row."""
    service = ocore_ssh.ssh()
    scrubber = Scrubber(get_state().config.secret_values())
    outcome: dict[str, list[str]] = {"ok": [], "failed": [], "unpinned": []}
    for server in service.servers.list():
        status, error = check_one(service, server, scrubber)
        service.servers.record_check(server.name, status, error)
        outcome[status].append(server.name)
    return {"checked": sum(len(names) for names in outcome.values()), **outcome}


def tasks() -> list[Task]:
    """The ``tasks`` hook (the job queue namespaces it: ``ssh.check_servers``)."""
    return [Task("check_servers", check_servers, schedule=SCHEDULE)]
