"""Secret values: held behind a wrapper whose repr and str never show them."""

from __future__ import annotations

import hashlib
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def secret_summary(text: str) -> str:
    """How a secret is shown: set, its length and a short hash to compare deployments."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"set ({len(text)} chars, sha256:{digest}…)"


class Secret(Generic[T]):
    """A parsed secret; ``reveal()`` is the only way to the value, so accidents don't print it."""

    __slots__ = ("_value", "_shown")

    def __init__(self, value: T, shown: str) -> None:
        self._value = value
        self._shown = shown

    def reveal(self) -> T:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._shown})"

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._shown))

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


def reveal(value: Any) -> Any:
    """The plain value of a setting whether or not it is a ``Secret``."""
    return value.reveal() if isinstance(value, Secret) else value
