"""Settings sections: a plugin's settings as one frozen, typed dataclass.

Each field carries its ``Setting`` (the one declaration that drives parsing, validation, docs,
the example file and redaction); the loader parses every section's settings in one pass and
hands the plugin an instance, so services read typed attributes instead of loose values:

    @section
    class MailSettings:
        host: str = setting("SMTP_HOST", kinds.hostname(), "SMTP server host.", default="localhost")
        port: int = setting("SMTP_PORT", kinds.port(), "SMTP server port.", default="1025")

Secret settings hold a ``Secret`` (its repr never shows the value; ``reveal()`` does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ocore_flask.config.declarations import Setting

T = TypeVar("T")
_KEY = "ocore.setting"


def setting(name: str, kind: Any, description: str, **options: Any) -> Any:
    """A section field declared by its ``Setting`` (same arguments as ``Setting``)."""
    return dataclasses.field(metadata={_KEY: Setting(name, kind, description, **options)})


def section(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen dataclass whose every field is a ``setting(...)``."""
    made = cls if dataclasses.is_dataclass(cls) else dataclasses.dataclass(frozen=True)(cls)
    plain = [f.name for f in dataclasses.fields(made) if _KEY not in f.metadata]
    if plain:
        raise TypeError(f"{cls.__name__}: fields {plain} must be declared with setting(...)")
    return made


def is_section(cls: Any) -> bool:
    """Whether ``cls`` was made with ``@section``."""
    return isinstance(cls, type) and dataclasses.is_dataclass(cls) and bool(settings_of(cls))


def settings_of(cls: type) -> tuple[Setting, ...]:
    """The ``Setting`` declarations of a section, in field order."""
    return tuple(f.metadata[_KEY] for f in dataclasses.fields(cls) if _KEY in f.metadata)


def build(cls: type[T], value_of: Callable[[str], Any]) -> T:
    """An instance of section ``cls`` with each field's value from ``value_of(variable)``."""
    return cls(
        **{f.name: value_of(f.metadata[_KEY].name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    )


def make_section(name: str, settings: Sequence[Setting]) -> type:
    """A section class built from ``Setting`` objects at run time (generated plugins, tests);
    fields are the variable names in lower case."""
    fields = [
        (s.name.lower(), Any, dataclasses.field(metadata={_KEY: s}))  # type: ignore[call-overload]
        for s in settings
    ]
    return section(dataclasses.make_dataclass(name, fields, frozen=True))
