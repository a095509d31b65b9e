"""The test kit for ocore and its plugins.

It is a pytest plugin (entry point ``pytest11: ocore_flask``, module
``ocore_flask.testing.plugin``), so installing ocore-flask makes these fixtures available in
every test suite:

- ``isolated_environ``: ``os.environ`` reduced to ``KEEP`` for the test (not autouse: turn it
  on for a whole suite with a one-line autouse fixture in the suite's root conftest);
- ``dev_env`` / ``strict_env``: valid development / production environments (host settings);
- ``make_app``: ``make_app(environ, plugins=None)`` builds apps, all closed after the test;
- ``app`` / ``client``: an app with the plugins of ``app_plugins`` (a fixture the suite
  overrides; none by default) in a development environment with a health token, and its
  test client;
- ``rich_health``: ``rich_health(app) -> (status, payload)`` of ``/api/health`` with the token.

And plain helpers, for tests and benchmarks alike::

    from ocore_flask.testing import JWT_SECRET, HEALTH_TOKEN, SSH_KEY   # test-only secrets
    from ocore_flask.testing import make_app, rich_health, assert_contributor_conforms, cli_json
    from ocore_flask.testing import free_port, wait_for, ServerProcess, script, base_env, run
    from ocore_flask.testing import fetch_rich_health   # a running server's rich health

The helpers that need Flask and the app factory (``make_app``, ``rich_health``,
``assert_contributor_conforms``) load on first use: pytest imports the plugin in every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_flask.plugin import lazy_exports
from ocore_flask.testing.environ import (
    HEALTH_TOKEN,
    JWT_SECRET,
    KEEP,
    SSH_KEY,
    dev_environ,
    development_environ,
    isolated,
    strict_environ,
)
from ocore_flask.testing.processes import (
    HOST,
    ServerError,
    ServerProcess,
    base_env,
    fetch_rich_health,
    free_port,
    http_status,
    run,
    script,
    wait_for,
)

if TYPE_CHECKING:
    from ocore_flask.testing.apps import AUTH_HEADER, cli_json, make_app, rich_health
    from ocore_flask.testing.conformance import assert_contributor_conforms

_LAZY = {
    "AUTH_HEADER": "ocore_flask.testing.apps",
    "cli_json": "ocore_flask.testing.apps",
    "make_app": "ocore_flask.testing.apps",
    "rich_health": "ocore_flask.testing.apps",
    "assert_contributor_conforms": "ocore_flask.testing.conformance",
}

__all__ = [
    "AUTH_HEADER",
    "HEALTH_TOKEN",
    "HOST",
    "JWT_SECRET",
    "KEEP",
    "SSH_KEY",
    "ServerError",
    "ServerProcess",
    "assert_contributor_conforms",
    "base_env",
    "cli_json",
    "dev_environ",
    "development_environ",
    "fetch_rich_health",
    "free_port",
    "http_status",
    "isolated",
    "make_app",
    "rich_health",
    "run",
    "script",
    "strict_environ",
    "wait_for",
]


__getattr__ = lazy_exports(__name__, _LAZY)
