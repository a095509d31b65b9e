"""Serving: waitress (``ocore serve``) and gunicorn (``gunicorn wsgi:app``, bundled config)."""
