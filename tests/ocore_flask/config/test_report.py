"""The report: one line per problem, errors first, a summary head, a stable JSON shape."""

from __future__ import annotations

import json

from ocore_flask.config import Mode, Problem, Report

E1 = Problem("JWT_SECRET", "is required but not set: generate one", "error", "host")
E2 = Problem("DATABASE_URL", "has no host", "error", "database")
W1 = Problem("APP_URL", "points at localhost", "warning", "host")


def test_levels_split_into_errors_and_warnings() -> None:
    report = Report(Mode.PRODUCTION, False, [W1, E1, E2])
    assert report.errors == [E1, E2]
    assert report.warnings == [W1]
    assert not report.ok


def test_warnings_alone_are_ok() -> None:
    assert Report(Mode.PRODUCTION, False, [W1]).ok
    assert Report(Mode.DEVELOPMENT).ok


def test_problem_defaults() -> None:
    problem = Problem("X", "bad")
    assert (problem.level, problem.owner) == ("error", "host")


def test_text_has_a_head_then_one_line_per_problem_errors_first() -> None:
    lines = Report(Mode.STAGING, False, [W1, E1, E2]).render_text().splitlines()
    assert lines[0] == "ocore: configuration invalid, 2 errors, 1 warning [ENVIRONMENT=staging]"
    assert lines[1].split()[:2] == ["error", "JWT_SECRET"]
    assert lines[2].split()[:2] == ["error", "DATABASE_URL"]
    assert lines[3].split()[:2] == ["warning", "APP_URL"]
    assert "ocore config docs" in lines[4]
    assert len(lines) == 5


def test_text_lines_are_aligned_and_carry_the_whole_message() -> None:
    lines = Report(Mode.PRODUCTION, False, [E1, E2]).render_text().splitlines()[1:3]
    assert lines[0].endswith(E1.message) and lines[1].endswith(E2.message)
    assert lines[0].index(E1.message) == lines[1].index(E2.message)


def test_valid_report_text() -> None:
    assert Report(Mode.DEVELOPMENT).render_text() == (
        "ocore: configuration valid [ENVIRONMENT=development]"
    )
    text = Report(Mode.PRODUCTION, False, [W1, W1]).render_text()
    assert text.splitlines()[0] == (
        "ocore: configuration valid, 2 warnings [ENVIRONMENT=production]"
    )
    assert "config docs" not in text


def test_singular_error_count() -> None:
    assert "invalid, 1 error [" in Report(Mode.PRODUCTION, False, [E1]).render_text()


def test_an_assumed_mode_is_said_so() -> None:
    head = Report(Mode.PRODUCTION, True, [E1]).render_text().splitlines()[0]
    assert "ENVIRONMENT=production (assumed" in head and "strict rules apply" in head


def test_problem_line_format() -> None:
    assert E2.line(14) == "  error   DATABASE_URL    has no host"
    assert W1.line(7) == "  warning APP_URL  points at localhost"


def test_json_shape_is_stable() -> None:
    data = Report(Mode.PRODUCTION, True, [W1, E1]).to_dict()
    assert list(data) == [
        "ok",
        "environment",
        "environment_assumed",
        "strict",
        "errors",
        "warnings",
    ]
    assert data["ok"] is False
    assert data["environment"] == "production"
    assert data["environment_assumed"] is True
    assert data["strict"] is True
    assert data["errors"] == [
        {"variable": "JWT_SECRET", "message": E1.message, "level": "error", "owner": "host"}
    ]
    assert data["warnings"] == [
        {"variable": "APP_URL", "message": W1.message, "level": "warning", "owner": "host"}
    ]
    assert json.loads(json.dumps(data)) == data


def test_json_of_a_valid_development_report() -> None:
    assert Report(Mode.DEVELOPMENT).to_dict() == {
        "ok": True,
        "environment": "development",
        "environment_assumed": False,
        "strict": False,
        "errors": [],
        "warnings": [],
    }
