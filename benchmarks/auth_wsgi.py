"""The app ``auth_bench.py`` serves: the database and auth plugins plus the benchmark's own
``auth_app`` plugin, configured from the environment like ``wsgi:app``.

    gunicorn auth_wsgi:app          (with benchmarks/ on PYTHONPATH)
"""

from __future__ import annotations

import auth_app

import ocore_auth
import ocore_database
from ocore_flask import create_app

app = create_app(plugins=[ocore_database.plugin, ocore_auth.plugin, auth_app.plugin])
