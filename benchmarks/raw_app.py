"""The servers benchmark's baseline: a raw WSGI callable answering every path with the anonymous
``/api/health`` body and the headers ocore's app sends with it (read from ``RAW_HEADERS``, a
JSON list of pairs captured from the real app), and nothing else: no Flask, no middleware.

    waitress-serve raw_app:app    gunicorn raw_app:app    granian --interface wsgi raw_app:app

``RAW_QUIET_QUEUE=1`` sets waitress's ``waitress.queue`` logger to ERROR, as ocore's logging
setup does (the servers benchmark measures waitress both ways).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status":"ok"}'
HEADERS: list[tuple[str, str]] = [
    (str(name), str(value)) for name, value in json.loads(os.environ.get("RAW_HEADERS", "[]"))
]
if not any(name.lower() == "content-type" for name, _ in HEADERS):
    HEADERS.append(("Content-Type", "application/json"))
HEADERS.append(("Content-Length", str(len(BODY))))

if os.environ.get("RAW_QUIET_QUEUE") == "1":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The same status, headers and body for every request."""
    start_response("200 OK", HEADERS)
    return [BODY]
