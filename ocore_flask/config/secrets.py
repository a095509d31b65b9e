"""Secret values: held behind a wrapper whose repr and str never show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ocore_flask.config.fingerprint import fingerprint

T = TypeVar("T")
NO_FINGERPRINT = "set (no fingerprint: the local key file is unavailable)"


def secret_summary(text: str, key: bytes | None) -> str:
    """How a secret is shown: set, with a fingerprint keyed by this installation's ``key``
    (comparable on this machine only, no length); without a key, no fingerprint at all."""
    if key is None:
        return NO_FINGERPRINT
    return f"set (local fingerprint {fingerprint(key, text)})"


class Secret(Generic[T]):
    """A parsed secret; ``reveal()`` is the only way to the value, so accidents don't print it."""

    __slots__ = ("_value", "_shown")

    def __init__(self, value: T, shown: str | Callable[[], str]) -> None:
        self._value = value
        self._shown = shown  # a callable is called when first shown (it may read a key file)

    def reveal(self) -> T:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        if callable(self._shown):
            self._shown = self._shown()
        return f"Secret({self._shown})"

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(Secret)  # consistent with __eq__ without deriving anything from the value

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


def reveal(value: Any) -> Any:
    """The plain value of a setting whether or not it is a ``Secret``."""
    return value.reveal() if isinstance(value, Secret) else value
