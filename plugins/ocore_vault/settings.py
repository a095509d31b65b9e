"""The vault plugin's settings: the active key and the decrypt-only previous keys."""

from __future__ import annotations

from ocore_flask.config import (
    REQUIRED,
    Check,
    Context,
    Derived,
    PerMode,
    Secret,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)

KEY_FIX = (
    "generate one with: openssl rand -base64 48 (and back it up: losing it loses every credential)"
)


# The vault derives its development key from JWT_SECRET under its own HKDF label; the setting
# itself holds no value (``config show``: "derived (…)", source "derived").
DERIVED_FROM_JWT = Derived("from JWT_SECRET by HKDF, under the vault's own label", lambda _: None)


def _each_long_enough(keys: tuple[str, ...], _: Context) -> str | None:
    short = [i + 1 for i, key in enumerate(keys) if len(key) < 32]
    if short:
        return (
            f"key #{short[0]} has fewer than 32 characters; every previous key must have 32 or more"
        )
    return None


@section
class VaultSettings:
    """The vault's settings: the active encryption key and the decrypt-only previous ones."""

    encryption_key: Secret[str] | None = setting(
        "SSH_ENCRYPTION_KEY",
        kinds.text(),
        "Encrypts stored SSH credentials (AES-256-GCM via HKDF). Development derives it from "
        "JWT_SECRET when unset. Changing it needs the old one in SSH_ENCRYPTION_KEY_PREVIOUS.",
        default=PerMode(development=DERIVED_FROM_JWT, strict=REQUIRED),
        secret=True,
        example="<openssl rand -base64 48>",
        checks=(rules.min_length(32, fix=KEY_FIX), rules.strong_secret(fix=KEY_FIX)),
        fix=KEY_FIX,
    )

    encryption_key_previous: Secret[tuple[str, ...]] | None = setting(
        "SSH_ENCRYPTION_KEY_PREVIOUS",
        kinds.secret_list(),
        "Comma-separated earlier keys, decrypt only, until `ocore vault rotate` moved all rows.",
        secret=True,
        example="",
        checks=(Check("each at least 32 characters", _each_long_enough),),
    )


SETTINGS = settings_of(VaultSettings)
