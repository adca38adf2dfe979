"""What the server tests share (test_serve*.py, test_one_path.py, test_memory.py): a server in a
thread on a free loopback port, its metrics, and a client that sends a request on its own
connection and goes away while its work is queued. Every wait is bounded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from toolkit.serve.settings import ServeSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(settings: ServeSettings) -> Iterator[str]:
    """uvicorn in a thread on a free port; yields the base URL, stops (gracefully) afterwards."""
    from toolkit.serve.app import create_app
    from toolkit.serve.server import make_server, uvicorn_config

    settings.port = free_port()
    app = create_app(settings)
    server = make_server(uvicorn_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(60)


def metric(text: str, prefix: str) -> float:
    """The sum of the Prometheus samples of ``text`` whose line starts with ``prefix``."""
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


@contextmanager
def abandoned_request(url: str, session: Any, request: bytes, never_queued: str) -> Iterator[None]:
    """``request`` (raw HTTP) sent on a connection of its own; once its items are queued the block
    runs, then the client goes away (the connection is closed) and this waits, at most 30 s, until
    the server has noticed (``rejected_total{reason="gone"}``). ``never_queued`` is the failure's
    message when the items do not queue within 30 s. ``session`` is an httpx.Client on ``url``."""
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(request)
        deadline = time.monotonic() + 30
        while metric(session.get("/metrics").text, "toolkit_serve_queued_items") == 0:
            assert time.monotonic() < deadline, never_queued
            time.sleep(0.02)
        yield
    finally:
        sock.close()  # the client goes away
    deadline = time.monotonic() + 30
    while 'toolkit_serve_rejected_total{reason="gone"} 1.0' not in session.get("/metrics").text:
        assert time.monotonic() < deadline, "the disconnect was not noticed"
        time.sleep(0.05)
