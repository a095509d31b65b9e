"""One WSGI middleware for what every response needs: a request id, the security headers, cookie
flags, and the access-log line. Done at the WSGI layer, once per response, it stays off the
Flask hook chain that the liveness probe would otherwise pay for on every request."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = "ocore.request_id"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HEALTH_PATH = "/api/health"
access_log = logging.getLogger("ocore_flask.access")

StartResponse = Callable[..., Any]


class _RequestIds:
    """Request ids: 32 hex digits, a random per-process prefix and a counter. Unique across
    processes and restarts without a system call per request (a client may send its own id
    anyway, so they need not be unpredictable); a forked worker draws a new prefix."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(8), "big"))

    def next(self) -> str:
        # next() on itertools.count is atomic under the GIL: no lock needed.
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


#: Process state, not app state: one sequence per process, whichever apps it serves.
_request_ids = _RequestIds()
os.register_at_fork(after_in_child=_request_ids.reset)
new_request_id = _request_ids.next


def secure_cookie(header: str, *, secure: bool, readable: frozenset[str] = frozenset()) -> str:
    """A Set-Cookie value with HttpOnly (unless its name is in ``readable``: a CSRF token that
    the page's scripts must echo), SameSite=Lax (unless set) and, if asked, Secure."""
    lowered = [part.strip().lower() for part in header.split(";")]
    additions = []
    if "httponly" not in lowered and header.split("=", 1)[0].strip() not in readable:
        additions.append("HttpOnly")
    if not any(part.startswith("samesite=") for part in lowered):
        additions.append("SameSite=Lax")
    if secure and "secure" not in lowered:
        additions.append("Secure")
    return "; ".join([header.rstrip("; ")] + additions)


class OcoreMiddleware:
    """Wraps the app: request id in/out, headers the app did not set itself, cookie flags,
    one access-log line (successful anonymous liveness probes at debug only)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        headers: Mapping[str, str],
        *,
        secure: bool,
        readable_cookies: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.headers = [(name, value) for name, value in headers.items()]
        self.names = {name.lower() for name in headers}
        self.secure = secure
        self.readable = frozenset(readable_cookies)

    def add_header(self, name: str, value: str) -> None:
        """Send ``name: value`` on every response the app does not set it on (the granian
        runner's empty ``Server``), at no extra cost per request."""
        if name.lower() not in self.names:
            self.headers.append((name, value))
            self.names.add(name.lower())

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID")
        if incoming and _REQUEST_ID_RE.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = new_request_id()
        environ[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        seen: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            if "set-cookie" in present:
                headers[:] = [
                    (
                        n,
                        secure_cookie(v, secure=self.secure, readable=self.readable)
                        if n.lower() == "set-cookie"
                        else v,
                    )
                    for n, v in headers
                ]
            if present.isdisjoint(self.names):
                headers.extend(self.headers)
            else:
                headers.extend(h for h in self.headers if h[0].lower() not in present)
            headers.append((REQUEST_ID_HEADER, request_id))
            seen.append(status)
            return start_response(status, headers, exc_info)

        result = self.app(environ, start)
        self._log(environ, seen[0] if seen else "500", started)
        return result

    def _log(self, environ: dict[str, Any], status: str, started: float) -> None:
        probe = environ.get("PATH_INFO") == HEALTH_PATH and "HTTP_AUTHORIZATION" not in environ
        level = logging.DEBUG if probe and status.startswith("200") else logging.INFO
        if access_log.isEnabledFor(level):
            fields = access_fields(environ, status, started)
            access_log.log(
                level,
                "%s %s %s %.1fms %s",
                fields["method"],
                fields["path"],
                fields["status"],
                fields["duration_ms"],
                fields["remote_addr"],
                extra=fields,
            )


def access_fields(environ: Mapping[str, Any], status: str, started: float) -> dict[str, Any]:
    """One request's access-log fields; JSON lines carry each as its own key."""
    code = status.split(" ", 1)[0]
    return {
        "method": environ.get("REQUEST_METHOD"),
        "path": _text(environ.get("PATH_INFO", "")),
        "status": int(code) if code.isdigit() else code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "request_id": request_id_of(environ),
    }


def _text(wsgi_string: str) -> str:
    # WSGI strings are bytes as latin-1; the client sent UTF-8 (or, undecodable, escapes).
    try:
        return wsgi_string.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return wsgi_string


def request_id_of(environ: Mapping[str, Any]) -> str | None:
    """The request id the middleware assigned."""
    return environ.get(REQUEST_ID_KEY)
