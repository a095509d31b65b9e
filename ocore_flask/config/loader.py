"""Resolve settings from an environment: one ``environs.Env(eager=False)``, one ``seal()``, then
the cross-field rules; every problem lands in one report."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import marshmallow as ma
from environs import Env, EnvValidationError

from ocore_flask.config.declarations import (
    REQUIRED,
    Context,
    CrossRule,
    Derived,
    Setting,
)
from ocore_flask.config.distinct import reused_secrets
from ocore_flask.config.fingerprint import KEY_VARIABLE, default_key_path, load_key
from ocore_flask.config.modes import DEFAULT_MODE, Mode
from ocore_flask.config.report import Problem, Report
from ocore_flask.config.secrets import Secret, secret_summary
from ocore_flask.config.sections import build
from ocore_flask.errors import ConfigError

T = TypeVar("T")
MODE_VARIABLE = "ENVIRONMENT"
_UNSET = object()
_SHOWN_CHARS = 60


class _MappingEnv(Env):
    """environs' reader over a given mapping, so tests and ``create_app(environ=...)`` never touch
    ``os.environ``; values are never expanded."""

    def __init__(self, source: Mapping[str, str]) -> None:
        super().__init__(eager=False, expand_vars=False)
        self._source = source

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._source.get(env_key, default)


@dataclass
class Config(Mapping[str, Any]):
    """Resolved settings: secrets come back as ``Secret``; ``plain()`` reveals them."""

    mode: Mode
    report: Report
    settings: dict[str, Setting] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    _values: dict[str, Any] = field(default_factory=dict, repr=False)
    _sections: dict[type, Any] = field(default_factory=dict, repr=False)
    _fingerprint_key: Any = field(default=_UNSET, repr=False)

    def __getitem__(self, name: str) -> Any:
        value = self._values[name]
        setting = self.settings[name]
        if setting.secret and value is not None:
            return Secret(value, lambda: self.describe(name))
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Config {self.mode.value}: {len(self._values)} settings>"

    def section(self, cls: type[T]) -> T:
        """The typed settings section ``cls`` (see ``ocore_flask.config.section``), built once."""
        if cls not in self._sections:
            self._sections[cls] = build(cls, self.__getitem__)
        return self._sections[cls]

    def plain(self, name: str) -> Any:
        """The value itself, secret or not: for the code that needs it, never for output."""
        return self._values.get(name)

    def describe(self, name: str) -> str:
        """How a value may be shown: secrets masked (or redacted by their kind), others as text."""
        setting, value = self.settings[name], self._values.get(name)
        if value is None:
            default = setting.default_for(self.mode)
            if self.sources.get(name) == "derived" and isinstance(default, Derived):
                return f"derived ({default.doc})"  # by its owner at run time, e.g. a dev key
            return "unset"
        if setting.secret:
            if setting.kind.safe_render is not None:
                return setting.kind.safe_render(value)
            return secret_summary(setting.kind.render(value), self._fingerprint())
        return setting.kind.render(value)

    def _fingerprint(self) -> bytes | None:
        """This installation's fingerprint key, read (or created) once per Config, on first
        use: from ``OCORE_FINGERPRINT_KEY_FILE`` when declared (None while it is invalid)."""
        if self._fingerprint_key is _UNSET:
            if KEY_VARIABLE in self.settings:
                path = self._values.get(KEY_VARIABLE)
            else:
                path = default_key_path()
            self._fingerprint_key = load_key(path) if path else None
        return self._fingerprint_key

    def secret_values(self) -> list[str]:
        """Every configured secret fragment, for scrubbing logs and health output."""
        found: list[str] = []
        for name, setting in self.settings.items():
            value = self._values.get(name)
            if not setting.secret or value is None:
                continue
            if setting.kind.secret_parts is not None:
                found += setting.kind.secret_parts(value)
            elif isinstance(value, tuple | list):
                found += [str(v) for v in value]
            else:
                found.append(str(value))
        return [s for s in found if s]


@dataclass
class _Run:
    """Mutable state of one resolution, shared with the environs parser callback."""

    source: Mapping[str, str]
    mode: Mode = DEFAULT_MODE
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def parse(self, raw: Any, *, setting: Setting) -> Any:
        """environs parser: raw text (or _UNSET) to a checked value; problems raise for environs."""
        if raw is _UNSET or raw == "":
            text, origin = self._default_text(setting, empty=raw == "")
            # A derived default may be None: its owner derives the value at run time.
            self.sources[setting.name] = "unset" if text is None and origin != "derived" else origin
            if text is None:
                self.values[setting.name] = None
                return None
        else:
            text, origin = raw, "environment"
            self.sources[setting.name] = origin
            if not raw.strip():
                raise ma.ValidationError("is only whitespace: unset it or give it a value")
            if raw != raw.strip():
                raise ma.ValidationError("has leading or trailing whitespace: remove it")
        try:
            value = setting.kind.parse(text)
        except ValueError as exc:
            raise ma.ValidationError(self._parse_message(setting, str(exc), text, origin)) from None
        errors = []
        context = Context(self.mode, self.values)
        for check in setting.checks:
            if not check.applies_to(self.mode):
                continue
            message = check.test(value, context)
            if message and check.level == "error":
                errors.append(message)
            elif message:
                self.warnings.append(Problem(setting.name, message, "warning", setting.owner))
        if errors:
            raise ma.ValidationError(errors)
        self.values[setting.name] = value
        return value

    def _default_text(self, setting: Setting, *, empty: bool) -> tuple[str | None, str]:
        default = setting.default_for(self.mode)
        if default is REQUIRED:
            state = "is set but empty" if empty else "is required but not set"
            where = f" in {self.mode.value}" if not setting.required_in(Mode.DEVELOPMENT) else ""
            hint = setting.fix or (
                f"e.g. {setting.name}={setting.example}" if setting.example else ""
            )
            raise ma.ValidationError(f"{state}{where}" + (f": {hint}" if hint else ""))
        if isinstance(default, Derived):
            return default.compute(self.values), "derived"
        return default, "default"

    def _parse_message(self, setting: Setting, message: str, text: str, origin: str) -> str:
        if origin != "environment":
            return f"{message} (the {origin} value; set {setting.name} explicitly)"
        if not setting.secret:
            shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
            message += f" (got {shown!r})"
        if setting.fix:
            message += f"; {setting.fix}"
        return message


def resolve(
    environ: Mapping[str, str],
    settings: Sequence[Setting],
    rules: Sequence[CrossRule] = (),
    problems: Iterable[Problem] = (),
) -> Config:
    """Parse and validate every setting; the returned Config's report lists every problem."""
    run = _Run(environ)
    env = _MappingEnv(environ)
    env.add_parser("ocore_setting", run.parse)
    ordered = sorted(settings, key=lambda s: s.name != MODE_VARIABLE)
    mode_assumed = False
    for setting in ordered:
        value = env.ocore_setting(setting.name, _UNSET, setting=setting)
        if setting.name == MODE_VARIABLE:
            mode_assumed = value is None
            run.mode = Mode(value) if value else DEFAULT_MODE
    errors: dict[str, list[str]] = {}
    try:
        env.seal()
    except EnvValidationError as exc:
        errors = {k: list(v) for k, v in exc.error_messages.items()}  # type: ignore[union-attr]
    by_name = {s.name: s for s in settings}
    found = [
        Problem(name, msg, "error", by_name[name].owner)
        for name, msgs in errors.items()
        for msg in msgs
    ]
    found += _cross_problems(run, rules, by_name, failed=set(errors))
    found += reused_secrets(run.mode, settings, run.values, failed=set(errors))
    found += run.warnings + _lookalike_warnings(environ, by_name)
    found += list(problems)
    order = {s.name: i for i, s in enumerate(settings)}
    found.sort(key=lambda p: (p.level != "error", order.get(p.variable, len(order))))
    report = Report(run.mode, mode_assumed, found)
    return Config(run.mode, report, dict(by_name), run.sources, run.values)


def load(
    environ: Mapping[str, str],
    settings: Sequence[Setting],
    rules: Sequence[CrossRule] = (),
    problems: Iterable[Problem] = (),
) -> Config:
    """Like ``resolve`` but raise ``ConfigError`` (with the whole report) on any error."""
    config = resolve(environ, settings, rules, problems)
    if not config.report.ok:
        raise ConfigError(config.report)
    return config


def _cross_problems(
    run: _Run, rules: Sequence[CrossRule], by_name: Mapping[str, Setting], failed: set[str]
) -> list[Problem]:
    found = []
    context = Context(run.mode, run.values)
    for rule in rules:
        names = (*rule.inputs, *rule.depends, rule.target)
        if not rule.applies_to(run.mode) or failed.intersection(names):
            continue
        if any(run.values.get(name) is None for name in rule.inputs):
            continue
        message = rule.test(context)
        if message:
            owner = by_name[rule.target].owner if rule.target in by_name else "host"
            found.append(Problem(rule.target, message, rule.level, owner))
    return found


def _lookalike_warnings(
    environ: Mapping[str, str], by_name: Mapping[str, Setting]
) -> list[Problem]:
    """Unknown variables that share a declared prefix and nearly match a declared name."""
    prefixes = {name.split("_", 1)[0] + "_" for name in by_name}
    found = []
    for key in sorted(environ):
        if key in by_name or not key.startswith(tuple(prefixes)):
            continue
        close = difflib.get_close_matches(key, list(by_name), n=1, cutoff=0.85)
        if close:
            message = f"is not a known setting and is ignored; did you mean {close[0]}?"
            found.append(Problem(key, message, "warning", by_name[close[0]].owner))
    return found
