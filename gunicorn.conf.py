"""Read by ``gunicorn wsgi:app`` from this directory: ocore's gunicorn settings."""

from ocore_flask.serving.gunicorn_config import *  # noqa: F403
