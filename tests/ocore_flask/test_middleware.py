"""ocore's WSGI middleware on its own: request ids (unique, per process after a fork, a
client's valid id kept), the headers it adds (once, never over the app's own)."""

from __future__ import annotations

import os
import re
import threading

from ocore_flask.middleware import OcoreMiddleware, new_request_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def _app(headers: list[tuple[str, str]]):
    def app(environ, start_response):
        start_response("200 OK", list(headers))
        return [b"ok"]

    return app


def _call(middleware: OcoreMiddleware, **environ: str) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def start_response(status, headers, exc_info=None):
        seen.extend(headers)

    body = middleware({"REQUEST_METHOD": "GET", "PATH_INFO": "/x", **environ}, start_response)
    assert b"".join(body) == b"ok"
    return seen


def test_request_ids_are_32_hex_digits_and_unique_across_threads():
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_request_id() for _ in range(25_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [rid for into in drawn for rid in into]
    assert all(HEX32.fullmatch(rid) for rid in every)
    assert len(set(every)) == len(every) == 100_000


def test_a_forked_child_draws_its_own_ids():
    parent = new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id, leave without running pytest's teardown
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert HEX32.fullmatch(child)
    assert child[:16] != parent[:16], "a worker must not continue its parent's sequence"


def test_a_valid_client_id_is_kept_and_an_invalid_one_replaced():
    middleware = OcoreMiddleware(_app([]), {}, secure=False)
    kept = dict(_call(middleware, HTTP_X_REQUEST_ID="abc-123"))
    assert kept["X-Request-ID"] == "abc-123"
    replaced = dict(_call(middleware, HTTP_X_REQUEST_ID="bad id\n"))
    assert HEX32.fullmatch(replaced["X-Request-ID"])


def test_an_added_header_is_sent_once_and_never_over_the_apps_own():
    middleware = OcoreMiddleware(_app([]), {"X-Frame-Options": "DENY"}, secure=False)
    middleware.add_header("Server", "")
    middleware.add_header("server", "again")  # the same name: ignored
    names = [name for name, _ in _call(middleware)]
    assert names.count("Server") == 1 and "server" not in names
    own = OcoreMiddleware(_app([("Server", "mine")]), {}, secure=False)
    own.add_header("Server", "")
    assert [v for n, v in _call(own) if n.lower() == "server"] == ["mine"]
