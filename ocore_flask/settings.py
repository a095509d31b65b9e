"""The host's own settings (plugins declare theirs). The README's reference table, ``config docs``
and ``config example`` are all generated from these declarations."""

from __future__ import annotations

from ocore_flask.config import kinds, rules
from ocore_flask.config.declarations import REQUIRED, Context, CrossRule, Derived, Kind, PerMode
from ocore_flask.config.durations import Duration
from ocore_flask.config.fingerprint import default_key_path
from ocore_flask.config.secrets import Secret
from ocore_flask.config.sections import section, setting, settings_of
from ocore_flask.logconfig import log_config_file

_LOCAL_APP = "http://localhost:3000"


@section
class HostSettings:
    """The host's settings: mode, tokens, URLs, serving, health, logs and plugins."""

    environment: str = setting(
        "ENVIRONMENT",
        kinds.choice("development", "staging", "production"),
        "Run mode. Anything but development enforces the strict security rules.",
        default="production",
        example="production",
    )

    jwt_secret: Secret[str] = setting(
        "JWT_SECRET",
        kinds.text(),
        "Signs access tokens (auth plugin); in development also the source of the SSH vault key.",
        default=REQUIRED,
        secret=True,
        example="<openssl rand -base64 48>",
        checks=(rules.min_length(32), rules.strong_secret()),
        fix=rules.GENERATE_HINT,
    )

    app_url: str = setting(
        "APP_URL",
        kinds.http_url(),
        "Public URL of the dashboard (links in mail; the WebAuthn origin by default).",
        default=_LOCAL_APP,
        example="https://ocore.example.com",
        checks=(
            rules.not_loopback_url("your public dashboard URL, e.g. https://ocore.example.com"),
        ),
    )

    server_port: int = setting(
        "SERVER_PORT",
        kinds.port(),
        "HTTP port the server listens on (internal only; a TLS reverse proxy sits in front).",
        default="8080",
        example="8080",
    )

    server_host: str = setting(
        "SERVER_HOST",
        kinds.hostname(),
        "Address to listen on: loopback in development, all interfaces (inside the container "
        "network) otherwise.",
        default=PerMode(development="127.0.0.1", strict="0.0.0.0"),
        example="0.0.0.0",
    )

    wsgi_server: str = setting(
        "WSGI_SERVER",
        kinds.choice("granian", "waitress", ignore_case=True),
        "What `ocore serve` runs: granian (Rust; about five times waitress's throughput here) "
        "or waitress (pure Python). `ocore serve --server` overrides it.",
        default="granian",
        example="granian",
    )

    server_threads: int = setting(
        "SERVER_THREADS",
        kinds.integer(1, 256),
        "Request threads per process (waitress threads, gunicorn gthread threads, granian "
        "blocking threads).",
        default="8",
        example="8",
    )

    server_connection_limit: int = setting(
        "SERVER_CONNECTION_LIMIT",
        kinds.integer(1, 10_000),
        "Most simultaneous client connections (waitress) or requests in progress (granian) per "
        "process; more wait in the backlog.",
        default="200",
        example="200",
    )

    server_channel_timeout: Duration = setting(
        "SERVER_CHANNEL_TIMEOUT",
        kinds.duration(),
        "An idle or stalled client connection is closed after this long (slow-client defence).",
        default="30s",
        example="30s",
    )

    server_shutdown_grace: Duration = setting(
        "SERVER_SHUTDOWN_GRACE",
        kinds.duration(),
        "On SIGTERM, how long in-flight requests may take to finish before the process exits.",
        default="20s",
        example="20s",
    )

    web_concurrency: int = setting(
        "WEB_CONCURRENCY",
        kinds.integer(1, 64),
        "Worker processes under gunicorn and granian (also sizes database connection budgets).",
        default="1",
        example="2",
    )

    health_check_token: Secret[str] | None = setting(
        "HEALTH_CHECK_TOKEN",
        kinds.text(),
        "Bearer token that unlocks the rich /api/health payload; unset keeps it off.",
        secret=True,
        example="<openssl rand -base64 48>",
        checks=(rules.min_length(32, applies="strict"), rules.strong_secret()),
        fix=rules.GENERATE_HINT,
    )

    health_check_token_previous: Secret[str] | None = setting(
        "HEALTH_CHECK_TOKEN_PREVIOUS",
        kinds.text(),
        "The previous health token, still accepted while monitors are switched to the new one.",
        secret=True,
        example="",
        checks=(rules.min_length(32, applies="strict"), rules.strong_secret()),
        fix=rules.GENERATE_HINT,
    )

    health_cache_ttl: Duration = setting(
        "HEALTH_CACHE_TTL",
        kinds.duration(positive=False),
        "How long rich health results are reused before contributors run again (0 disables).",
        default="1s",
        example="2s",
    )

    health_timeout: Duration = setting(
        "HEALTH_TIMEOUT",
        kinds.duration(),
        "Upper bound on any health contributor's run; a slower one is reported as timed out.",
        default="2s",
        example="3s",
    )

    log_level: str = setting(
        "LOG_LEVEL",
        kinds.choice("debug", "info", "warning", "error", "critical", ignore_case=True),
        "Minimum level of log records.",
        default="info",
        example="info",
    )

    log_format: str = setting(
        "LOG_FORMAT",
        kinds.choice("text", "json", ignore_case=True),
        "Log line format: text for people, json (one object per line) for collectors.",
        default=PerMode(development="text", strict="json"),
        example="json",
    )

    log_config: str | None = setting(
        "LOG_CONFIG",
        Kind("file", "path of a JSON logging.config.dictConfig file", log_config_file),
        "Your own logging configuration (JSON for logging.config.dictConfig) instead of "
        "LOG_FORMAT/LOG_LEVEL; secrets stay redacted on every handler.",
        example="/etc/ocore/logging.json",
    )

    trusted_proxy_hops: int = setting(
        "TRUSTED_PROXY_HOPS",
        kinds.integer(0, 10),
        "How many reverse proxies' X-Forwarded-* headers to trust (0 ignores them).",
        default=PerMode(development="0", strict="1"),
        example="1",
    )

    ocore_disabled_plugins: tuple[str, ...] | None = setting(
        "OCORE_DISABLED_PLUGINS",
        kinds.names_list(),
        "Installed plugins to switch off (comma-separated names); core plugins cannot be.",
        example="ssh,mail",
    )

    ocore_commit: str | None = setting(
        "OCORE_COMMIT",
        kinds.text(),
        "Build commit shown by rich health (else the one baked in at build time, else unknown).",
        example="3f2c1ab",
    )

    ocore_fingerprint_key_file: str | None = setting(
        "OCORE_FINGERPRINT_KEY_FILE",
        kinds.absolute_path(),
        "This machine's key for the fingerprints `config show` prints for secrets (created "
        "once, 0600; point it at a volume in containers). Unreadable: no fingerprints.",
        default=Derived(
            "$XDG_STATE_HOME/ocore/fingerprint.key, else ~/.local/state/ocore/fingerprint.key",
            lambda _: default_key_path(),
        ),
        example="/var/lib/ocore/fingerprint.key",
    )


SETTINGS = settings_of(HostSettings)


def _previous_needs_current(ctx: Context) -> str | None:
    if ctx.values.get("HEALTH_CHECK_TOKEN") is None:
        return "is set but HEALTH_CHECK_TOKEN is not: set the new token, keep this as the old one"
    return None


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "HEALTH_CHECK_TOKEN_PREVIOUS",
        ("HEALTH_CHECK_TOKEN_PREVIOUS",),
        "only together with HEALTH_CHECK_TOKEN",
        _previous_needs_current,
        depends=("HEALTH_CHECK_TOKEN",),
    ),
)
