"""Run modes: development relaxes what breaks local work; every other mode is strict."""

from __future__ import annotations

import enum


class Mode(enum.StrEnum):
    """The value of ``ENVIRONMENT``; unset means production (secure by default)."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def strict(self) -> bool:
        """Whether security rules are enforced (everything but development)."""
        return self is not Mode.DEVELOPMENT


DEFAULT_MODE = Mode.PRODUCTION
