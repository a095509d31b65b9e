"""Serving: waitress (``ocore serve``) and gunicorn (``gunicorn wsgi:app``, bundled config)."""

from __future__ import annotations


def host_port(host: str, port: int) -> str:
    """``host:port`` as a bind address or URL authority (an IPv6 literal in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
