"""Importable WSGI entry point for installed deployments: ``gunicorn ocore_flask.wsgi:app``
(the repository's ``wsgi.py`` is the same app). A configuration error exits 78 with the report."""

from ocore_flask.entry import app_or_exit

app = app_or_exit()
