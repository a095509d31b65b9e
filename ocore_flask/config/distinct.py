"""One rule over every setting declared secret, whoever declares it: in the strict modes, secrets
with different purposes never share a value (whoever holds the monitor's health token must not
thereby sign JWTs or decrypt the vault).

A setting's purpose is its name without a trailing ``_PREVIOUS`` (the rotation convention), so
``HEALTH_CHECK_TOKEN_PREVIOUS`` may equal ``HEALTH_CHECK_TOKEN`` but not ``JWT_SECRET``.
Development allows reuse: there the vault key is derived from ``JWT_SECRET`` anyway (HKDF,
its own label), and local env files are throwaway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ocore_flask.config.declarations import Setting
from ocore_flask.config.modes import Mode
from ocore_flask.config.report import Problem

DOC = "differs from every other secret"
PREVIOUS_SUFFIX = "_PREVIOUS"
FIX = "give each its own value, e.g. openssl rand -base64 48 (then restart everything using it)"


def purpose(setting: Setting) -> str:
    """What a secret is for: its name, ``X_PREVIOUS`` counting as ``X``."""
    return setting.name.removesuffix(PREVIOUS_SUFFIX)


def secret_items(setting: Setting, value: Any) -> list[tuple[str, str]]:
    """``(label, text)`` of each secret a value holds: list entries are labelled ``#n``; a kind
    with ``secret_parts`` (a URL) contributes its parts (the password…)."""
    if setting.kind.secret_parts is not None:
        return [("", part) for part in setting.kind.secret_parts(value)]
    if isinstance(value, tuple | list):
        return [(f"#{i}", str(item)) for i, item in enumerate(value, 1)]
    return [("", str(value))]


def reused_secrets(
    mode: Mode,
    settings: Sequence[Setting],
    values: Mapping[str, Any],
    failed: Iterable[str] = (),
) -> list[Problem]:
    """Strict modes: one error per pair of secrets of different purposes sharing a value,
    reported on the later-declared one, naming both variables and never the value."""
    if not mode.strict:
        return []
    skip = set(failed)
    seen: dict[str, tuple[Setting, str]] = {}
    reported: set[tuple[str, str]] = set()
    found: list[Problem] = []
    for setting in settings:
        value = values.get(setting.name)
        if not setting.secret or value is None or setting.name in skip:
            continue
        for label, text in secret_items(setting, value):
            if not text:
                continue
            earlier = seen.get(text)
            if earlier is None:
                seen[text] = (setting, label)
                continue
            other, other_label = earlier
            pair = (other.name, setting.name)
            if purpose(other) == purpose(setting) or pair in reported:
                continue
            reported.add(pair)
            found.append(
                Problem(setting.name, _message(label, other, other_label), "error", setting.owner)
            )
    return found


def _message(label: str, other: Setting, other_label: str) -> str:
    mine = f"entry {label} " if label else ""
    theirs = f" (entry {other_label})" if other_label else ""
    return (
        f"{mine}has the same value as {other.name}{theirs}: secrets with different purposes "
        f"must differ in staging/production; {FIX}"
    )
