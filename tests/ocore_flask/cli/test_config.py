"""``ocore config check|show|docs|example`` and the WSGI entry points, as real processes with
controlled environments. The commands run once, concurrently; the tests read their results."""

from __future__ import annotations

import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ocore_flask.config.fingerprint import fingerprint, load_key
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, SSH_KEY, base_env, run, script

DB_PASSWORD = "S3cr3t-P@ss"
DB_ENCODED = "S3cr3t-P%40ss"
SMTP_PASSWORD = "smtp-Vb7Nc2Xz9Lk4Jh1Gf6Ds3Aq8"
OLD_KEY = "old-ssh-Qw3Er6Ty9Ui2Op5As8Df1Gh4Jk7L"
SHORT_JWT = "too-short-jwt-9f"
SSL_PASSWORD = "client-key-Passphrase/9"
SSL_ENCODED = "client-key-Passphrase%2F9"
NEEDLES = (JWT_SECRET, SSH_KEY, HEALTH_TOKEN, DB_PASSWORD, DB_ENCODED, SMTP_PASSWORD, OLD_KEY)
NEEDLES += (SHORT_JWT, SSL_PASSWORD, SSL_ENCODED)
TIMEOUT = 20

EMPTY = base_env()
DEVELOPMENT = base_env(
    {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": f"postgres://ocore:{DB_ENCODED}@db:5432/ocore?sslmode=disable",
    }
)
# The libpq client-key passphrase in the URL: a secret like the password.
SSL_URL = (
    f"postgres://ocore:{DB_ENCODED}@db:5432/ocore?sslmode=verify-full&sslpassword={SSL_ENCODED}"
)
SSL_URL_SHOWN = "postgres://ocore:***@db:5432/ocore?sslmode=verify-full&sslpassword=***"
DEVELOPMENT_SSL = {**DEVELOPMENT, "DATABASE_URL": SSL_URL}
# Valid secrets everywhere, but production without SSH_ENCRYPTION_KEY: invalid.
STRICT = base_env(
    {
        "ENVIRONMENT": "production",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": SSL_URL,
        "SSH_ENCRYPTION_KEY_PREVIOUS": OLD_KEY,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "APP_URL": "https://ocore.example.com",
        "SMTP_HOST": "smtp.example.com",
        "SMTP_USERNAME": "apikey",
        "SMTP_PASSWORD": SMTP_PASSWORD,
    }
)
# Invalid secrets of every sort.
BROKEN = base_env(
    {
        "ENVIRONMENT": "production",
        "JWT_SECRET": SHORT_JWT,
        "JWT_SECERT": JWT_SECRET,
        "DATABASE_URL": f"postgres://ocore:{DB_PASSWORD}@db:5432/ocore",
        "SSH_ENCRYPTION_KEY": f" {SSH_KEY}",
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "SMTP_USERNAME": "apikey",
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_TLS": "none",
    }
)

OCORE = ["ocore"]
FLASK_OCORE = ["flask", "--app", "wsgi", "ocore"]
COMMANDS = {
    "check_empty_flask": (FLASK_OCORE + ["config", "check"], EMPTY),
    "check_development": (OCORE + ["config", "check"], DEVELOPMENT),
    "check_json_empty": (OCORE + ["config", "check", "--json"], EMPTY),
    "check_broken": (OCORE + ["config", "check"], BROKEN),
    "show_strict": (OCORE + ["config", "show"], STRICT),
    "show_json_broken": (OCORE + ["config", "show", "--json"], BROKEN),
    "show_json_development": (OCORE + ["config", "show", "--json"], DEVELOPMENT_SSL),
    "docs": (OCORE + ["config", "docs"], STRICT),
    "example": (OCORE + ["config", "example"], BROKEN),
    "waitress": (["waitress-serve", "--port=0", "wsgi:app"], BROKEN),
    "gunicorn": (["gunicorn", "--bind=127.0.0.1:0", "wsgi:app"], BROKEN),
}


def execute(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return run([script(argv[0]), *argv[1:]], env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, -1, str(exc.stdout or ""), "TIMEOUT")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's fingerprint key (created by the first `config show`)."""
    return tmp_path_factory.mktemp("state") / "ocore" / "fingerprint.key"


@pytest.fixture(scope="module")
def runs(key_file: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    def environ(key: str, env: dict[str, str]) -> dict[str, str]:
        return {**env, "OCORE_FINGERPRINT_KEY_FILE": str(key_file)} if "show" in key else env

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            key: pool.submit(execute, argv, environ(key, env))
            for key, (argv, env) in COMMANDS.items()
        }
        return {key: future.result() for key, future in futures.items()}


def declared_names() -> list[str]:
    return [s.name for s in load_plugins({}).settings]


def error_variables(report: dict) -> set[str]:
    return {e["variable"] for e in report["errors"]}


# --- config check -------------------------------------------------------------------------


def test_empty_environment_fails_with_every_required_variable_in_one_report(runs) -> None:
    result = runs["check_empty_flask"]  # env -i PATH=… flask --app wsgi ocore config check
    assert result.returncode == 78, result.stderr
    report = result.stderr
    assert report.startswith("ocore: configuration invalid")
    assert "ENVIRONMENT=production" in report.splitlines()[0]
    for name in ("DATABASE_URL", "JWT_SECRET", "SSH_ENCRYPTION_KEY"):
        assert any(line.split()[:2] == ["error", name] for line in report.splitlines()), name
    assert "Traceback" not in result.stderr + result.stdout


def test_development_with_both_required_values_passes(runs) -> None:
    result = runs["check_development"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ocore: configuration valid [ENVIRONMENT=development]")
    assert result.stderr == ""


def test_check_json_shape_when_invalid(runs) -> None:
    result = runs["check_json_empty"]
    assert result.returncode == 78
    data = json.loads(result.stdout)
    assert list(data) == [
        "ok",
        "environment",
        "environment_assumed",
        "strict",
        "errors",
        "warnings",
    ]
    assert data["ok"] is False and data["strict"] is True
    assert data["environment"] == "production" and data["environment_assumed"] is False
    assert {"DATABASE_URL", "JWT_SECRET", "SSH_ENCRYPTION_KEY"} <= error_variables(data)
    for problem in data["errors"] + data["warnings"]:
        assert set(problem) == {"variable", "message", "level", "owner"}
    assert {e["level"] for e in data["errors"]} == {"error"}
    assert {w["level"] for w in data["warnings"]} == {"warning"}
    owners = {e["variable"]: e["owner"] for e in data["errors"]}
    assert owners["DATABASE_URL"] == "database" and owners["SSH_ENCRYPTION_KEY"] == "vault"
    assert owners["JWT_SECRET"] == "host"


def test_check_reports_every_broken_variable(runs) -> None:
    result = runs["check_broken"]
    assert result.returncode == 78
    errors = {line.split()[1] for line in result.stderr.splitlines() if line.startswith("  error")}
    assert errors == {"JWT_SECRET", "DATABASE_URL", "SSH_ENCRYPTION_KEY", "SMTP_TLS"}
    assert "did you mean JWT_SECRET" in result.stderr
    assert "URL-encode" in result.stderr


# --- config show --------------------------------------------------------------------------


def test_show_lists_every_row_masks_secrets_and_exits_78_while_invalid(runs, key_file) -> None:
    result = runs["show_strict"]
    assert result.returncode == 78
    rows = {}
    for line in result.stdout.splitlines():
        if line and not line.startswith((" ", "ocore:", "Fix")):
            name, source, value = line.split(None, 2)
            rows[name] = (source, value)
    assert list(rows) == declared_names()
    key = load_key(key_file)
    assert key is not None and oct(key_file.stat().st_mode)[-3:] == "600"
    for name, value in (
        ("JWT_SECRET", JWT_SECRET),
        ("HEALTH_CHECK_TOKEN", HEALTH_TOKEN),
        ("SMTP_PASSWORD", SMTP_PASSWORD),
        ("SSH_ENCRYPTION_KEY_PREVIOUS", OLD_KEY),
    ):
        assert rows[name] == ("environment", f"set (local fingerprint {fingerprint(key, value)})")
        assert hashlib.sha256(value.encode()).hexdigest()[:8] not in result.stdout
    assert rows["DATABASE_URL"] == ("environment", SSL_URL_SHOWN)
    for needle in NEEDLES:
        assert needle not in result.stdout + result.stderr, needle
    assert rows["SSH_ENCRYPTION_KEY"][1].startswith("invalid")
    assert rows["DB_POOL_MAX_CONNS"] == ("default", "25")
    assert rows["SMTP_HOST"] == ("environment", "smtp.example.com")
    assert "ocore: configuration invalid, 1 error" in result.stdout


def test_show_json_lists_every_setting_even_when_broken(runs) -> None:
    result = runs["show_json_broken"]
    assert result.returncode == 78
    data = json.loads(result.stdout)
    assert {"ok", "environment", "strict", "errors", "warnings", "settings"} <= set(data)
    rows = {row["name"]: row for row in data["settings"]}
    assert list(rows) == declared_names()
    for row in rows.values():
        assert set(row) == {"name", "owner", "value", "source", "secret", "errors"}
    for name in ("JWT_SECRET", "DATABASE_URL", "SSH_ENCRYPTION_KEY"):
        assert rows[name]["value"] == "invalid" and rows[name]["errors"]
        assert rows[name]["secret"] is True
    assert rows["SMTP_PASSWORD"]["value"].startswith("set (")


def test_show_json_masks_secret_query_parameters_and_names_the_derived_vault_key(runs) -> None:
    result = runs["show_json_development"]
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["settings"]}
    assert rows["DATABASE_URL"]["value"] == SSL_URL_SHOWN
    for needle in NEEDLES:
        assert needle not in result.stdout + result.stderr, needle
    key = rows["SSH_ENCRYPTION_KEY"]
    assert (key["source"], key["secret"]) == ("derived", True)
    assert key["value"] == "derived (from JWT_SECRET by HKDF, under the vault's own label)"
    assert rows["SSH_ENCRYPTION_KEY_PREVIOUS"]["value"] == "unset"


# --- docs and example ---------------------------------------------------------------------


def test_docs_lists_every_declared_setting(runs) -> None:
    result = runs["docs"]
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == declared_names()


def example_assignments(text: str) -> dict[str, str]:
    """The uncommented NAME=value lines of an env file."""
    pairs = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not an assignment: {line!r}"
            pairs[name] = value
    return pairs


def test_example_mentions_every_setting_and_fills_the_required_ones(runs) -> None:
    result = runs["example"]
    assert result.returncode == 0, result.stderr
    for name in declared_names():
        assert f"{name}=" in result.stdout, name
    required = example_assignments(result.stdout)
    assert set(required) == {"JWT_SECRET", "DATABASE_URL", "SSH_ENCRYPTION_KEY"}
    assert all("<" in value for value in required.values())


def test_example_kept_as_is_is_rejected(runs) -> None:
    required = example_assignments(runs["example"].stdout)
    result = execute(OCORE + ["config", "check", "--json"], base_env(required))
    assert result.returncode == 78
    assert error_variables(json.loads(result.stdout)) == set(required)


# --- WSGI entry points --------------------------------------------------------------------


@pytest.mark.parametrize("server", ["waitress", "gunicorn"])
def test_wsgi_servers_exit_with_the_report_and_no_traceback(runs, server: str) -> None:
    result = runs[server]
    assert result.stderr != "TIMEOUT", f"{server} kept running with a broken configuration"
    assert result.returncode == 78, result.stderr
    assert runs["check_broken"].stderr.strip() in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- secrets never reach any output -------------------------------------------------------


def test_no_secret_value_reaches_any_output(runs) -> None:
    for key, result in runs.items():
        output = result.stdout + result.stderr
        for needle in NEEDLES:
            assert needle not in output, f"{key} printed a secret"


# --- --json on the text commands --------------------------------------------------------------


@pytest.mark.parametrize(("command", "key"), [("docs", "markdown"), ("example", "env")])
def test_docs_and_example_wrap_their_text_in_one_json_document(runs, command: str, key: str):
    result = execute(OCORE + ["config", command, "--json"], COMMANDS[command][1])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {key: runs[command].stdout}
