"""WSGI entry point: ``waitress-serve wsgi:app`` or ``gunicorn wsgi:app``.

A configuration error prints the full report to stderr and exits with status 78.
"""

from ocore_flask.entry import app_or_exit

app = app_or_exit()
