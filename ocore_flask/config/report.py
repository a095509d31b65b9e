"""The configuration report: every problem at once, one line each, text for people, JSON for
machines. Its JSON shape is documented in the README and kept stable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ocore_flask.config.modes import Mode


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or worth a look (warning) about one variable."""

    variable: str
    message: str
    level: Literal["error", "warning"] = "error"
    owner: str = "host"

    def line(self, width: int) -> str:
        """The report line: level, variable, what is wrong and how to fix it."""
        return f"  {self.level:<7} {self.variable:<{width}}  {self.message}"


@dataclass
class Report:
    """Errors and warnings from resolving the configuration."""

    mode: Mode
    mode_assumed: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The fatal problems."""
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The non-fatal problems."""
        return [p for p in self.problems if p.level == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing is fatal."""
        return not self.errors

    def render_text(self) -> str:
        """A report an operator reads at 3 a.m.: a summary line, then one line per problem."""
        errors, warnings = self.errors, self.warnings
        mode = f"ENVIRONMENT={self.mode.value}"
        if self.mode_assumed:
            mode += " (assumed: the strict rules apply until ENVIRONMENT is valid)"
        if errors:
            head = f"ocore: configuration invalid, {_count(errors, 'error')}"
        else:
            head = "ocore: configuration valid"
        if warnings:
            head += f", {_count(warnings, 'warning')}"
        lines = [f"{head} [{mode}]"]
        width = max((len(p.variable) for p in self.problems), default=0)
        lines += [p.line(width) for p in errors + warnings]
        if errors:
            lines.append("Fix the variables above; `ocore config docs` describes every setting.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape: ok, environment, strict, errors[], warnings[]."""
        return {
            "ok": self.ok,
            "environment": self.mode.value,
            "environment_assumed": self.mode_assumed,
            "strict": self.mode.strict,
            "errors": [asdict(p) for p in self.errors],
            "warnings": [asdict(p) for p in self.warnings],
        }


def _count(items: list[Problem], word: str) -> str:
    return f"{len(items)} {word}{'' if len(items) == 1 else 's'}"
