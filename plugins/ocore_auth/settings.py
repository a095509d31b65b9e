"""The auth plugin's settings: token lifetimes, the previous signing secret (rotation), the
WebAuthn relying party, login throttling and how quickly a revoked user's tokens stop working.

``JWT_SECRET`` stays the host's (the seed requires it always); this section only reads it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ocore_flask.config import (
    Context,
    CrossRule,
    Derived,
    Duration,
    Secret,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)


def _origin_of_app_url(values: dict) -> str | None:
    url = values.get("APP_URL")
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _host_of_origin(values: dict) -> str | None:
    origin = values.get("WEBAUTHN_ORIGIN")
    return urlsplit(origin).hostname if origin else None


@section
class AuthSettings:
    """Tokens, passkeys and login throttling."""

    access_expiry: Duration = setting(
        "JWT_ACCESS_EXPIRY",
        kinds.duration(),
        "Lifetime of an access token (a JWT signed HS256 with JWT_SECRET).",
        default="1h",
        example="15m",
    )

    refresh_expiry: Duration = setting(
        "JWT_REFRESH_EXPIRY",
        kinds.duration(),
        "Lifetime of a refresh token (opaque, rotated on use); must exceed the access token's.",
        default="720h",
        example="168h",
    )

    secret_previous: Secret[str] | None = setting(
        "JWT_SECRET_PREVIOUS",
        kinds.text(),
        "The previous JWT_SECRET: tokens it signed still verify while you rotate; new tokens "
        "use JWT_SECRET. Remove it once JWT_ACCESS_EXPIRY has passed since the switch.",
        secret=True,
        example="",
        checks=(rules.min_length(32), rules.strong_secret()),
        fix=rules.GENERATE_HINT,
    )

    webauthn_origin: str = setting(
        "WEBAUTHN_ORIGIN",
        kinds.origin(),
        "Origin that WebAuthn (passkey) ceremonies must come from.",
        default=Derived("the origin of APP_URL", _origin_of_app_url),
        example="https://ocore.example.com",
        checks=(rules.https_only("your dashboard's https origin"),),
    )

    webauthn_rp_id: str = setting(
        "WEBAUTHN_RP_ID",
        kinds.hostname(),
        "WebAuthn relying-party ID: the origin's host or a registrable suffix of it.",
        default=Derived("the host of WEBAUTHN_ORIGIN", _host_of_origin),
        example="ocore.example.com",
    )

    login_free_attempts: int = setting(
        "AUTH_LOGIN_FREE_ATTEMPTS",
        kinds.integer(1, 100),
        "Failed logins allowed per account before each further attempt must wait (the wait "
        "doubles from 1s up to AUTH_LOGIN_MAX_DELAY); a client address gets four times as many.",
        default="5",
        example="5",
    )

    login_max_delay: Duration = setting(
        "AUTH_LOGIN_MAX_DELAY",
        kinds.duration(),
        "Longest wait imposed after repeated failed logins (answered 429 with Retry-After).",
        default="15m",
        example="15m",
    )

    user_cache_ttl: Duration = setting(
        "AUTH_USER_CACHE_TTL",
        kinds.duration(positive=False),
        "How long a process trusts what it read of a user (role, disabled, revoked sessions) "
        "before reading it again: the most a disabled user's access token keeps working.",
        default="5s",
        example="5s",
    )


SETTINGS = settings_of(AuthSettings)


def _refresh_after_access(ctx: Context) -> str | None:
    access, refresh = ctx.values["JWT_ACCESS_EXPIRY"], ctx.values["JWT_REFRESH_EXPIRY"]
    if refresh <= access:
        return f"must be longer than JWT_ACCESS_EXPIRY ({access}); it is {refresh}"
    return None


def _rp_id_matches_origin(ctx: Context) -> str | None:
    rp_id, origin = ctx.values["WEBAUTHN_RP_ID"], ctx.values["WEBAUTHN_ORIGIN"]
    host = (urlsplit(origin).hostname or "").lower()
    if rp_id == host:
        return None
    if not rules.is_ip_address(host) and host.endswith("." + rp_id) and "." in rp_id:
        return None
    return (
        f"must equal the host of WEBAUTHN_ORIGIN ({host}) or a registrable suffix of it, "
        f"e.g. {host.split('.', 1)[-1] if '.' in host else host}"
    )


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "JWT_REFRESH_EXPIRY",
        ("JWT_ACCESS_EXPIRY",),
        "longer than JWT_ACCESS_EXPIRY",
        _refresh_after_access,
    ),
    CrossRule(
        "WEBAUTHN_RP_ID",
        ("WEBAUTHN_ORIGIN",),
        "the origin's host or a registrable suffix of it",
        _rp_id_matches_origin,
    ),
)
