"""How the serving tests start real servers on ``served_app`` (the app plus test-only routes):
the argv per server, the environment per mode, and a plain GET. Shared by the serving test
modules; not a test module itself."""

from __future__ import annotations

import http.client

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, SSH_KEY, base_env, script

APP = "tests.ocore_flask.serving.served_app:app"
SERVERS = ["waitress", "gunicorn", "granian"]
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def serve_argv(kind: str, port: int) -> list[str]:
    """``ocore serve`` with waitress or granian (``flask --app`` so the test routes are served),
    or gunicorn with two workers."""
    if kind in ("waitress", "granian"):
        return [
            script("flask"),
            "--app",
            APP,
            "ocore",
            "serve",
            "--server",
            kind,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    return [script("gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", APP]


def serving_env(database_url: str, mode: str, **extra: str) -> dict[str, str]:
    env = {
        "ENVIRONMENT": mode,
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": database_url,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "DB_POOL_MIN_CONNS": "1",
        **extra,
    }
    if mode != "development":
        env.setdefault("SSH_ENCRYPTION_KEY", SSH_KEY)
        env.setdefault("APP_URL", "https://ocore.example.com")
    return base_env(env)


def get(port: int, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()
