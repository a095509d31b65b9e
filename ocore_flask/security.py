"""Security defaults by mode: response headers, cookie flags, trusted proxies.

Every mode sends the headers that cost nothing locally; strict modes add HSTS (when APP_URL is
https) and force ``Secure`` on cookies. Forwarded headers are honoured for exactly
TRUSTED_PROXY_HOPS proxies (ProxyFix): X-Forwarded-For, -Proto and -Host, the ones the
documented proxy sets; -Port and -Prefix never. With 0 they are all ignored.

Every cookie is ``HttpOnly``, except those a plugin names in ``app.config[READABLE_COOKIES]``
during ``init_app``: a double-submit CSRF token is useless unless the page's scripts can read it
(and it is no credential on its own).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ocore_flask.config.loader import Config
from ocore_flask.middleware import OcoreMiddleware

READABLE_COOKIES = "OCORE_SCRIPT_READABLE_COOKIES"
HSTS = "max-age=63072000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # The app serves only JSON: nothing may load, frame or submit anything.
    "Content-Security-Policy": API_CSP,
}


def security_headers(config: Config) -> dict[str, str]:
    """The headers every response carries in this configuration."""
    headers = dict(BASE_HEADERS)
    if config.mode.strict and str(config["APP_URL"]).startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def init_app(app: Flask, config: Config) -> None:
    """Install the headers, cookie flags, request ids and ProxyFix on ``app``."""
    secure = config.mode.strict
    app.config.update(
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    hops = config["TRUSTED_PROXY_HOPS"]
    if hops:
        # Exactly what the documented proxy sets (README: X-Forwarded-For/-Proto/-Host); it
        # does not set -Port or -Prefix, so a client could: those stay ignored.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=0, x_prefix=0
        )
    app.wsgi_app = OcoreMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        security_headers(config),
        secure=secure,
        readable_cookies=app.config.get(READABLE_COOKIES, ()),
    )
