"""WSGI entry point: ``waitress-serve wsgi:app`` or ``gunicorn wsgi:app`` from this directory
(``ocore_flask.wsgi:app`` from anywhere). A configuration error prints the full report to
stderr and exits with status 78."""

from ocore_flask.wsgi import app

__all__ = ["app"]
