"""``ocore-agent``: push this server's status to an ocore backend every interval.

    ocore-agent --url https://ocore.example.com --token-file /etc/ocore-agent/token
    OCORE_AGENT_TOKEN=oca_… ocore-agent --url https://ocore.example.com --once

Runs in the foreground (for systemd or a container), logs one line per event on stderr, and
exits 0 on SIGTERM or SIGINT. The token comes from ``--token-file`` (read again before every
push, so a rotated token is picked up by rewriting the file) or ``OCORE_AGENT_TOKEN``; never
from the command line, where ``ps`` would show it. Exit status: 0 done, 1 ``--once`` push
refused or failed, 2 usage, 78 configuration (token, URL, CA file).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import signal
import ssl
import sys
import threading
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path
from types import FrameType
from typing import NoReturn

from ocore_agent import __version__
from ocore_agent.client import Answer, ConfigError, Target, push, tls_context
from ocore_agent.collect import DOCKER_SOCKET, Collector
from ocore_agent.durations import DurationError, seconds

log = logging.getLogger("ocore_agent")

TOKEN_ENV = "OCORE_AGENT_TOKEN"  # noqa: S105 (the variable's name)
TOKEN_RE = re.compile(r"oca_[A-Za-z0-9_-]{43}")
EXIT_FAILED, EXIT_CONFIG = 1, 78
DEFAULT_INTERVAL = 30.0
MIN_INTERVAL, MAX_INTERVAL = 0.05, 86_400.0
MAX_BACKOFF = 300.0
JITTER = 0.1  # pushes are spread over ±10 % of the interval


def _interval(text: str) -> float:
    try:
        value = seconds(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise argparse.ArgumentTypeError("must be from 50ms to 24h, e.g. 30s")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that never echoes something shaped like a token in its usage errors."""

    def error(self, message: str) -> NoReturn:
        super().error(TOKEN_RE.sub("oca_***", message))


def parser() -> argparse.ArgumentParser:
    """The command line (no option takes the token: see ``--token-file``; no abbreviations,
    so ``--token`` is an error rather than ``--token-file``)."""
    cli = _Parser(
        prog="ocore-agent",
        allow_abbrev=False,
        description="Push this server's status (load, CPU, memory, disks, containers) to ocore.",
    )
    cli.add_argument(
        "--url", required=True, help="the ocore backend, e.g. https://ocore.example.com"
    )
    cli.add_argument(
        "--token-file", help=f"file holding the agent token (else ${TOKEN_ENV}); re-read each push"
    )
    cli.add_argument(
        "--interval",
        type=_interval,
        help="Go duration between pushes until the server says otherwise (default 30s)",
    )
    cli.add_argument("--once", action="store_true", help="push once; exit 0 if it was stored")
    cli.add_argument("--ca-file", help="verify the server against these CA certificates (PEM)")
    cli.add_argument(
        "--disk",
        action="append",
        default=None,
        help="a filesystem to report (repeatable; default /)",
    )
    cli.add_argument("--docker-socket", default=DOCKER_SOCKET, help="the Docker Engine API socket")
    cli.add_argument("-v", "--verbose", action="store_true", help="log every push")
    cli.add_argument("--version", action="version", version=f"ocore-agent {__version__}")
    return cli


class TokenSource:
    """The token, from a file (read before every push) or the environment."""

    def __init__(self, path: str | None, environ: dict[str, str]) -> None:
        """Use ``path`` when given, else ``OCORE_AGENT_TOKEN`` from ``environ``."""
        self.path = path
        self.env_token = environ.get(TOKEN_ENV, "").strip()
        if path is None and not self.env_token:
            raise ConfigError(f"no token: give --token-file FILE or set {TOKEN_ENV}")
        self.read()  # fail at startup, not at the first push

    def read(self) -> str:
        """The current token, checked for shape (never echoed)."""
        where = f"--token-file {self.path}" if self.path else TOKEN_ENV
        if self.path is not None:
            try:
                token = Path(self.path).read_text(encoding="ascii", errors="replace").strip()
            except OSError as exc:
                raise ConfigError(f"{where}: {exc.strerror or exc}") from None
        else:
            token = self.env_token
        if not TOKEN_RE.fullmatch(token):
            raise ConfigError(f"{where} does not hold an agent token (oca_ and 43 characters)")
        return token


class Agent:
    """The push loop: intervals with jitter, exponential backoff, Retry-After."""

    def __init__(
        self,
        target: Target,
        tokens: TokenSource,
        collector: Collector,
        context: ssl.SSLContext,
        interval: float,
    ) -> None:
        """Push to ``target``; ``interval`` until the server names its own."""
        self.target, self.tokens, self.collector, self.context = target, tokens, collector, context
        self.interval = interval
        self.failures = 0
        self.pushes = 0
        self.stop = threading.Event()
        self.random = random.Random()

    def push_once(self) -> Answer | None:
        """One push; None when it did not reach the server (logged)."""
        try:
            token = self.tokens.read()
            answer = push(self.target, token, self.collector.collect(), self.context)
        except ConfigError as exc:
            log.error("%s", exc)
            return None
        except (OSError, HTTPException) as exc:
            log.error("push to %s failed: %s", self.target, exc)
            return None
        if answer.interval is not None:
            self.interval = min(max(answer.interval, MIN_INTERVAL), MAX_INTERVAL)
        if answer.ok:
            self.pushes += 1
            if self.failures:
                log.info("push stored again after %d failed attempt(s)", self.failures)
            elif self.pushes == 1:
                log.info("first push stored; the server asks for one every %gs", self.interval)
            else:
                log.debug("push stored")
        else:
            log.error("push refused: HTTP %d %s", answer.status, answer.message)
        return answer

    def next_delay(self, answer: Answer | None) -> float:
        """Seconds until the next push."""
        if answer is not None and answer.ok:
            self.failures = 0
            return self.interval * self.random.uniform(1 - JITTER, 1 + JITTER)
        self.failures += 1
        base = min(self.interval, 1.0)
        backoff = min(MAX_BACKOFF, base * 2 ** (self.failures - 1))
        delay = self.random.uniform(backoff / 2, backoff)
        if answer is not None and answer.retry_after is not None:
            delay = max(delay, answer.retry_after * self.random.uniform(1.0, 1.0 + JITTER))
        return delay

    def run(self) -> None:
        """Push until ``stop`` is set."""
        while not self.stop.is_set():
            delay = self.next_delay(self.push_once())
            log.debug("next push in %.2fs", delay)
            self.stop.wait(delay)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``ocore-agent``."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="ocore-agent: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        target = Target.parse(args.url)
        tokens = TokenSource(args.token_file, dict(os.environ))
        context = tls_context(args.ca_file)
    except ConfigError as exc:
        log.error("%s", exc)
        raise SystemExit(EXIT_CONFIG) from None
    collector = Collector(__version__, args.disk or ["/"], args.docker_socket)
    agent = Agent(target, tokens, collector, context, args.interval or DEFAULT_INTERVAL)
    if args.once:
        answer = agent.push_once()
        raise SystemExit(0 if answer is not None and answer.ok else EXIT_FAILED)

    def stop(signum: int, _: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        agent.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("ocore-agent %s pushing to %s every %gs", __version__, target, agent.interval)
    agent.run()
    raise SystemExit(0)


if __name__ == "__main__":
    main()
