"""Startup: wall time of ``ocore config check`` vs ``flask --version``, hyperfine style.

Each command runs once to warm the page cache, then N times, the commands alternating; the
figure is the median wall time. ``python -c pass`` is shown as the interpreter's floor. No
network: ``config check`` validates the environment only (the database URL is never dialled).

    python benchmarks/startup_bench.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Row, app_env, bench_main, median, progress, ratio, scaled

from ocore_flask.testing import script

BENCH = "startup"


def _time_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
        )
    return elapsed


def run(args: argparse.Namespace) -> list[Row]:
    """Median wall times of the commands and their ratio."""
    runs = scaled(args, 10, 3)
    # config check never connects, so any well-formed URL will do.
    env = app_env(f"postgresql://ocore:{secrets.token_urlsafe(24)}@127.0.0.1:5432/ocore")
    commands = {
        "ocore config check": [script("ocore"), "config", "check"],
        "flask --version": [script("flask"), "--version"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="ocore-bench-cwd-") as cwd:  # no .env to load
        for argv in commands.values():
            _time_once(argv, env, Path(cwd))  # warm-up
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(_time_once(argv, env, Path(cwd)))
    ms = {name: median(values) * 1000 for name, values in times.items()}
    for name, values in times.items():
        progress(
            f"startup {name}: median {ms[name]:.0f} ms, "
            f"min {min(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms ({runs} runs)"
        )
    return [
        Row(BENCH, f"ocore config check, median of {runs}", ms["ocore config check"], "ms"),
        Row(BENCH, f"flask --version, median of {runs}", ms["flask --version"], "ms"),
        Row(BENCH, f"python -c pass (floor), median of {runs}", ms["python -c pass"], "ms"),
        Row(
            BENCH,
            "ocore config check / flask --version wall time",
            ratio(ms["ocore config check"], ms["flask --version"]),
            "ratio",
            "<= 1.5",
        ),
    ]


if __name__ == "__main__":
    bench_main(run, __doc__)
