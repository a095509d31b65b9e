"""What the agent reports: load, uptime, CPU, memory (``/proc``), disks (``os.statvfs``) and
Docker containers (the Engine API over its unix socket, when there is one).

Every reader returns None (the figure is left out of the push) when its source is missing or
unreadable: an agent in a container without ``/proc`` of the host still pushes what it can.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("ocore_agent")

PROC = Path("/proc")
DOCKER_SOCKET = "/var/run/docker.sock"
#: the server refuses more (422); a larger list is trimmed, keeping the unhealthy first
MAX_CONTAINERS = 500
MAX_DISKS = 64
CONTAINER_STATES = {"created", "running", "paused", "restarting", "removing", "exited", "dead"}
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_NAME = re.compile(r"\S{1,255}")


def read_load(proc: Path = PROC) -> dict[str, float] | None:
    """The 1, 5 and 15 minute load averages."""
    try:
        one, five, fifteen = (float(x) for x in (proc / "loadavg").read_text().split()[:3])
    except (OSError, ValueError):
        return None
    return {"avg1": one, "avg5": five, "avg15": fifteen}


def read_uptime(proc: Path = PROC) -> float | None:
    """Seconds since boot."""
    try:
        return float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_memory(proc: Path = PROC) -> dict[str, int] | None:
    """Memory and swap in bytes (``MemAvailable`` is what the kernel says can be used)."""
    try:
        fields = {}
        for line in (proc / "meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                fields[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
        total = fields["MemTotal"]
        available = min(fields.get("MemAvailable", fields.get("MemFree", 0)), total)
    except (OSError, ValueError, KeyError):
        return None
    swap_total = fields.get("SwapTotal", 0)
    return {
        "total_bytes": total,
        "available_bytes": available,
        "swap_total_bytes": swap_total,
        "swap_free_bytes": min(fields.get("SwapFree", 0), swap_total),
    }


def read_disks(paths: list[str]) -> list[dict[str, Any]]:
    """Total and free bytes (as an unprivileged user sees them) of each path's filesystem."""
    disks = []
    for path in paths[:MAX_DISKS]:
        try:
            stat = os.statvfs(path)
        except OSError as exc:
            log.warning("cannot read disk %s: %s", path, exc.strerror or exc)
            continue
        total = stat.f_blocks * stat.f_frsize
        disks.append(
            {
                "path": path,
                "total_bytes": total,
                "free_bytes": min(stat.f_bavail * stat.f_frsize, total),
            }
        )
    return disks


class CPUMeter:
    """CPU busy share between two readings of ``/proc/stat`` (the first reading waits a
    moment so even ``--once`` reports a figure)."""

    def __init__(self, proc: Path = PROC) -> None:
        """Read from ``proc``."""
        self.proc = proc
        self._last: tuple[int, int] | None = None

    def _sample(self) -> tuple[int, int] | None:
        try:
            with (self.proc / "stat").open() as stat:
                first = stat.readline().split()
            values = [int(x) for x in first[1:9]]
        except (OSError, ValueError):
            return None
        if first[:1] != ["cpu"] or len(values) < 5:
            return None
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    def read(self) -> dict[str, Any]:
        """Logical CPUs and the busy percentage since the previous call (None if unknown)."""
        count = os.cpu_count() or 1
        if self._last is None:
            self._last = self._sample()
            time.sleep(0.1)
        now = self._sample()
        percent = None
        if now is not None and self._last is not None and now[0] > self._last[0]:
            total, idle = now[0] - self._last[0], now[1] - self._last[1]
            percent = round(min(max(100.0 * (total - idle) / total, 0.0), 100.0), 2)
        self._last = now
        return {"count": count, "percent": percent}


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the Docker Engine API)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _container(item: dict[str, Any]) -> dict[str, str] | None:
    names = item.get("Names") or []
    name = str(names[0]).lstrip("/") if names else str(item.get("Id", ""))[:12]
    state = str(item.get("State", "")).lower()
    if not _NAME.fullmatch(name) or state not in CONTAINER_STATES:
        return None
    found = _HEALTH.search(str(item.get("Status", "")))
    health = "none" if found is None else found.group(1).replace("health: ", "")
    return {"name": name, "state": state, "health": health}


def read_containers(path: str = DOCKER_SOCKET, timeout: float = 5.0) -> list[dict[str, str]] | None:
    """Every container (running or not) with its state and health; None without Docker."""
    if not os.path.exists(path):
        return None
    conn = _UnixHTTPConnection(path, timeout)
    try:
        conn.request("GET", "/containers/json?all=1", headers={"Host": "docker"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
        items = json.loads(body)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        log.warning("cannot list Docker containers through %s: %s", path, exc)
        return None
    finally:
        conn.close()
    containers = [c for c in (_container(i) for i in items if isinstance(i, dict)) if c]
    if len(containers) > MAX_CONTAINERS:
        log.warning("%d containers: reporting %d", len(containers), MAX_CONTAINERS)
        rank = {"unhealthy": 0, "starting": 1}
        containers.sort(key=lambda c: (rank.get(c["health"], 2), c["state"] == "running"))
        containers = containers[:MAX_CONTAINERS]
    return containers


class Collector:
    """Everything one push carries (``version`` and ``hostname`` included)."""

    def __init__(
        self,
        version: str,
        disks: list[str],
        docker_socket: str = DOCKER_SOCKET,
        proc: Path = PROC,
    ) -> None:
        """Report ``disks`` (paths) and the containers behind ``docker_socket``."""
        self.version = version
        self.disks = disks
        self.docker_socket = docker_socket
        self.proc = proc
        self.cpu = CPUMeter(proc)

    def collect(self) -> dict[str, Any]:
        """One snapshot; figures that cannot be read are left out."""
        body: dict[str, Any] = {
            "version": self.version[:64],
            "hostname": (socket.gethostname().split() or ["unknown"])[0][:253],
            "uptime_s": read_uptime(self.proc),
            "load": read_load(self.proc),
            "cpu": self.cpu.read(),
            "memory": read_memory(self.proc),
            "disks": read_disks(self.disks),
            "containers": read_containers(self.docker_socket),
        }
        return {k: v for k, v in body.items() if v is not None or k == "containers"}
