"""The conformance check for a health contributor (section 6 of the architecture): a valid
declaration, JSON data, no secrets, its timeout honoured, a clean failure when its dependency
is down."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flask import Flask

from ocore_flask.health.contributor import HealthContributor, as_result
from ocore_flask.health.runner import HealthRunner


def assert_contributor_conforms(
    contributor: HealthContributor,
    *,
    app: Flask | None = None,
    secrets: Iterable[str] = (),
    dependency_down: Callable[[], AbstractContextManager[Any]] | None = None,
    slack: float = 0.5,
) -> None:
    """Fail (AssertionError listing every problem) unless the contributor follows the rules:
    a valid name, JSON data, no secrets in what it returns (before any scrubbing), its timeout
    honoured, and a clean failure (no exception, in time) while its dependency is down."""
    problems: list[str] = []
    known_secrets = [s for s in secrets if s]
    context = app.app_context if app is not None else nullcontext
    try:
        HealthContributor(
            contributor.name, contributor.check, contributor.critical, contributor.timeout
        )
    except (TypeError, ValueError) as exc:
        problems.append(f"invalid declaration: {exc}")
    problems += _run_once(contributor, context, known_secrets, "normally", slack=slack)
    if dependency_down is not None:
        with dependency_down():
            problems += _run_once(
                contributor,
                context,
                known_secrets,
                "with its dependency down",
                expect_failure=True,
                slack=slack,
            )
    if problems:
        raise AssertionError(f"contributor {contributor.name!r}:\n  " + "\n  ".join(problems))


def _run_once(
    contributor: HealthContributor,
    context: Callable[[], AbstractContextManager[Any]],
    known_secrets: list[str],
    when: str,
    *,
    expect_failure: bool = False,
    slack: float = 0.5,
) -> list[str]:
    problems = []
    started = time.monotonic()
    try:
        with context():
            result = as_result(contributor.check())
    except Exception as exc:
        elapsed = time.monotonic() - started
        if not expect_failure:
            problems.append(f"raised {type(exc).__name__} {when}; return fail(...) instead")
        else:
            problems.append(f"raised {type(exc).__name__} {when}; it must return a fail section")
        result = None
    else:
        elapsed = time.monotonic() - started
        try:
            text = json.dumps({"message": result.message, "data": result.data}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems.append(f"returned non-JSON data {when}: {exc}")
            text = repr(result)
        leaked = [s for s in known_secrets if s in text]
        if leaked:
            problems.append(f"returned a configured secret {when} ({len(leaked)} found)")
        if expect_failure and result.status == "ok":
            problems.append(f"reported ok {when}")
    if elapsed > contributor.timeout + slack:
        problems.append(
            f"took {elapsed:.2f}s {when}, over its timeout of {contributor.timeout}s; bound "
            f"its I/O by the timeout"
        )
    with HealthRunner([contributor], context=context, cache_ttl=0) as runner:
        section = runner.run().checks[contributor.name]
    if "timed out" in (section.get("message") or "") and not expect_failure:
        problems.append(f"timed out in the framework {when}")
    return problems
