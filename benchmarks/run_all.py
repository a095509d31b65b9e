"""Run every benchmark of the project side by side and print one Markdown table of results.

    python benchmarks/run_all.py                   # everything (a few minutes)
    python benchmarks/run_all.py --only pool       # one benchmark (repeatable)
    python benchmarks/run_all.py --quick           # small counts: a smoke run

Benchmarks are the ``benchmarks/*_bench.py`` files, in a fixed order. A module exposing
``run(args) -> list[Row]`` runs in this process; any other is run as a script with ``--json``
(the database URL in ``TEST_DATABASE_URL``) and its JSON lines are read. One PostgreSQL
(``--database-url``, ``TEST_DATABASE_URL`` or an embedded server) is shared by all of them. A
benchmark that fails becomes a ``FAILED`` row and the exit status is 1; a number that misses
its target never changes the exit status.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from common import (
    BENCH_DIR,
    Row,
    add_common_arguments,
    coerce_row,
    description_markdown,
    load_average,
    machine_description,
    markdown_table,
    postgres,
    progress,
)

ORDER = ("health", "pool", "vault", "ssh", "startup")
TIMEOUT = 300.0  # per benchmark run as a subprocess


def discover() -> list[str]:
    """Names of the benchmarks present: ``ORDER`` first, then any other ``*_bench.py``."""
    present = sorted(p.name.removesuffix("_bench.py") for p in BENCH_DIR.glob("*_bench.py"))
    return [n for n in ORDER if n in present] + [n for n in present if n not in ORDER]


def _load(name: str) -> ModuleType:
    path = BENCH_DIR / f"{name}_bench.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _parse_json_rows(stdout: str) -> list[Row]:
    """Rows from JSON lines: an object per row, or a list of them (other lines ignored)."""
    rows: list[Row] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line or line[0] not in "[{":
            continue
        try:
            data: Any = json.loads(line)
        except ValueError:
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            try:
                rows.append(coerce_row(item))
            except (KeyError, TypeError, ValueError):
                continue
    return rows


def _as_subprocess(name: str, args: argparse.Namespace) -> list[Row]:
    argv = [sys.executable, str(BENCH_DIR / f"{name}_bench.py"), "--json"]
    if args.quick:
        argv.append("--quick")
    env = dict(os.environ)
    if args.database_url:  # through the environment: argv is visible to every local user
        env["TEST_DATABASE_URL"] = args.database_url
    done = subprocess.run(
        argv,
        cwd=BENCH_DIR.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # its progress goes straight to ours
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    rows = _parse_json_rows(done.stdout)
    if done.returncode != 0 or not rows:
        raise RuntimeError(f"{name}_bench.py exited {done.returncode} with {len(rows)} rows")
    return rows


def short_error(exc: BaseException) -> str:
    """One line: the exception's first line and, for a captured traceback, its last."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    if len(lines) > 1:
        text += f" ... {lines[-1]}"
    return text if len(text) <= 300 else text[:297] + "..."


def run_one(name: str, args: argparse.Namespace) -> list[Row]:
    """One benchmark's rows: in-process through ``run(args)``, else as a ``--json`` script."""
    module = _load(name)
    run = getattr(module, "run", None)
    if not callable(run):
        return _as_subprocess(name, args)
    result = run(args) if inspect.signature(run).parameters else run()
    if result is None:
        raise RuntimeError(f"{name}_bench.run() returned no rows")
    return [coerce_row(r) for r in result]


def main() -> int:
    """Parse options, run the benchmarks, print the table and the machine description."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--skip", action="append", default=[], metavar="NAME", help="skip this benchmark"
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    names = [n for n in discover() if (not args.only or n in args.only) and n not in args.skip]
    unknown = set(args.only or ()) - set(discover())
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))} (have {discover()})")

    started = time.monotonic()
    rows: list[Row] = []
    failed = False
    with postgres(args.database_url) as url:
        args.database_url = url  # one server for every benchmark
        machine = machine_description(url)
        machine["Load average at start"] = machine.pop("Load average")
        for name in names:
            progress(f"=== {name} ===")
            began = time.monotonic()
            try:
                rows += run_one(name, args)
            except Exception as exc:  # keep going: one broken benchmark must not hide the rest
                failed = True
                message = short_error(exc)
                progress(f"{name} FAILED: {message}")
                rows.append(Row(name, f"FAILED: {message}", "error", ""))
            progress(f"{name} took {time.monotonic() - began:.0f}s")
        machine["Load average at end"] = load_average()
    elapsed = time.monotonic() - started

    report = "\n".join(
        [
            markdown_table(rows),
            "",
            f"Run with `python benchmarks/run_all.py{' --quick' if args.quick else ''}` "
            f"in {elapsed:.0f} s ({', '.join(names)}).",
            "",
            description_markdown(machine),
        ]
    )
    if json_mode := args.json:
        for row in rows:
            print(row.to_json())
    else:
        print(report)
    if args.output is not None and not json_mode:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
