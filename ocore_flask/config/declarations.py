"""Setting declarations: one object drives parsing, validation, docs, examples, redaction."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ocore_flask.config.modes import Mode

T = TypeVar("T")
Level = Literal["error", "warning"]
Applies = Literal["all", "strict", "development"]
NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class _Required:
    """Sentinel default: the variable must be set."""

    _instance: _Required | None = None

    def __new__(cls) -> _Required:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class PerMode(Generic[T]):
    """A value that differs between development and the strict modes."""

    development: T
    strict: T

    def for_mode(self, mode: Mode) -> T:
        """Pick the value for ``mode``."""
        return self.strict if mode.strict else self.development


@dataclass(frozen=True)
class Derived:
    """A default computed from settings declared (and parsed) before this one."""

    doc: str
    compute: Callable[[Mapping[str, Any]], str | None]


Default = str | None | _Required | Derived | PerMode[Any]


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the mode and the values parsed so far."""

    mode: Mode
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    """A value type: how text becomes a value (``parse`` raises ValueError) and back.

    For secret settings, ``safe_render`` may show a redacted form (a URL without its password)
    and ``secret_parts`` lists the fragments that must be scrubbed from any output.
    """

    name: str
    doc: str
    parse: Callable[[str], Any]
    render: Callable[[Any], str] = str
    safe_render: Callable[[Any], str] | None = None
    secret_parts: Callable[[Any], list[str]] | None = None


def applies_in(applies: Applies, mode: Mode) -> bool:
    """Whether a rule marked ``applies`` runs in ``mode``."""
    if applies == "all":
        return True
    return mode.strict == (applies == "strict")


@dataclass(frozen=True)
class Check:
    """A rule on one parsed value; ``test`` returns what is wrong (and how to fix it) or None."""

    doc: str
    test: Callable[[Any, Context], str | None]
    level: Level = "error"
    applies: Applies = "all"

    def applies_to(self, mode: Mode) -> bool:
        """Whether the rule runs in ``mode``."""
        return applies_in(self.applies, mode)


@dataclass(frozen=True)
class CrossRule:
    """A rule across settings, reported on ``target``; skipped while an input is unset or any
    involved setting is invalid (that one is already reported). ``depends`` names settings the
    rule reads that may be unset but must not be invalid."""

    target: str
    inputs: tuple[str, ...]
    doc: str
    test: Callable[[Context], str | None]
    level: Level = "error"
    applies: Applies = "all"
    depends: tuple[str, ...] = ()

    def applies_to(self, mode: Mode) -> bool:
        """Whether the rule runs in ``mode``."""
        return applies_in(self.applies, mode)


@dataclass(frozen=True)
class Setting:
    """One environment variable, declared once by its owner (the host or a plugin)."""

    name: str
    kind: Kind
    description: str
    default: Default = None
    secret: bool = False
    example: str = ""
    checks: tuple[Check, ...] = ()
    fix: str = ""
    owner: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"setting name {self.name!r} must match {NAME_RE.pattern}")
        if self.secret and isinstance(self.default, str) and self.default:
            raise ValueError(f"secret setting {self.name} cannot have a literal default")

    def default_for(self, mode: Mode) -> str | None | _Required | Derived:
        """The declared default in ``mode``."""
        if isinstance(self.default, PerMode):
            return self.default.for_mode(mode)
        return self.default

    def required_in(self, mode: Mode) -> bool:
        """Whether the variable must be set in ``mode``."""
        return self.default_for(mode) is REQUIRED
