"""HTTP plumbing shared by the endpoints: the error type and its one-line JSON answer, reading
parameters from JSON or form bodies as LibreTranslate does, and the middleware that guards every
request (body size and read time, the client's address behind a trusted proxy, metrics, access
log, a JSON 500 for a bug and a JSON 503 for a request cut off at shutdown)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from toolkit.serve.limits import TrustedProxies
from toolkit.serve.metrics import Metrics
from toolkit.serve.settings import ServeSettings

access_log = logging.getLogger("toolkit.serve.access")
log = logging.getLogger("toolkit.serve")
T = TypeVar("T")

ROUTES = ("/", "/translate", "/detect", "/languages", "/summarize", "/health", "/metrics", "/docs", "/openapi.json",
          "/frontend/settings", "/spec", "/suggest", "/translate_file")
# Absolute paths (two or more components) in a message: the server's layout is nobody's business.
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@+~-]+){2,}[/\\]?")


class ApiError(Exception):
    """A refused request: its status code and the one line the client gets."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def public(message: str) -> str:
    """One line, no server paths, encodable (a lone surrogate echoed from a request becomes "?")."""
    text = " ".join(str(message).split()).encode("utf-8", "replace").decode("utf-8")
    return _PATH.sub("<path>", text)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 500:  # the connection's state is unknown after a failure: the client opens a fresh one
        headers = {**(headers or {}), "Connection": "close"}
    return JSONResponse({"error": public(message)}, status_code=status, headers=headers)


def raw_error(status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 error response with a JSON body, closing the connection: for the places
    below the app (the connection layer) that answer before or without a request cycle."""
    body = json.dumps({"error": public(message)}).encode("utf-8")
    lines = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}",
             "connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or ``ClientGone`` as soon as the client disconnects; ``work`` is then
    cancelled, so a request's sentences still waiting for a batch leave the queue.

    After the body is read, the next ASGI ``receive`` only returns when the client goes away
    (``http.disconnect``), so one waiting task detects it without polling."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task in done:
        return task.result()
    await asyncio.gather(task, return_exceptions=True)  # its items are off the queue before we answer
    raise ClientGone()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def optional_int(value: Any, name: str, maximum: int | None = None) -> int | None:
    """A whole number from JSON (an int) or a form (its digits); booleans, fractions and
    anything longer than ``maximum`` are refused in the client's terms (the parameter's name)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise ApiError(400, f"Invalid request: {name} parameter must be a whole number")
    if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        raise ApiError(400, f"Invalid request: {name} parameter is not a number")
    if not isinstance(value, (int, float, str)):
        raise ApiError(400, f"Invalid request: {name} parameter is not a number")
    number = int(value)
    if number < 0:
        raise ApiError(400, f"Invalid request: {name} must not be negative")
    if maximum is not None and number > maximum:
        raise ApiError(400, f"Invalid request: {name} parameter must be <= {maximum}")
    return number


def optional_bool(value: Any, name: str) -> bool:
    """A switch from JSON (true/false) or a form ("true"/"false", "1"/"0"); absent: False."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise ApiError(400, f"Invalid request: {name} parameter must be true or false")


def check_text(params: dict[str, Any]) -> None:
    """Every string in the parameters must be text UTF-8 can carry: JSON's ``\\ud800`` escapes
    give lone surrogates, which no tokenizer (nor the JSON answer) can encode."""
    for key, value in params.items():
        for text in [key, *(value if isinstance(value, list) else [value])]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    name = key if isinstance(key, str) and key.isascii() and key.isidentifier() else "a parameter"
                    raise ApiError(400, f"Invalid request: {name} holds a lone surrogate "
                                        f"(U+{ord(text[exc.start]):04X}), which is not text") from None


async def read_params(request: Request) -> dict[str, Any]:
    """The request's parameters from a JSON object or a form (query parameters fill the gaps),
    as LibreTranslate reads them. A repeated form field becomes a list."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    params: dict[str, Any] = {}
    if ctype == "application/json" or (not ctype and body.lstrip()[:1] in (b"{", b"[")):
        try:
            params = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Invalid JSON format") from None
        except RecursionError:  # a few KB of brackets nest deeper than the parser's stack
            raise ApiError(400, "Invalid JSON format: nested too deeply") from None
        if not isinstance(params, dict):
            raise ApiError(400, "Invalid JSON format: expected an object")
    elif ctype == "multipart/form-data":
        try:
            form = await request.form()
        except Exception:
            raise ApiError(400, "Invalid request: malformed multipart form") from None
        params = _collect((key, value) for key, value in form.multi_items() if isinstance(value, str))
    elif ctype in ("application/x-www-form-urlencoded", "") or ctype.startswith("text/"):
        try:
            params = _collect(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "Invalid request: the body is not UTF-8") from None
    else:
        raise ApiError(400, f"Invalid request: unsupported content type {ctype} (send JSON or a form)")
    for key, value in _collect(request.query_params.multi_items()).items():
        params.setdefault(key, value)
    check_text(params)
    return params


def _collect(items: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in items:
        if key in params:
            params[key] = (params[key] if isinstance(params[key], list) else [params[key]]) + [value]
        else:
            params[key] = value
    return params


@dataclass
class Shutdown:
    """What happened to the requests in flight when the server was told to stop, for the one
    line the CLI prints: how many finished, how many were cut off at --graceful-timeout."""

    stopping: bool = False
    in_flight: int = 0
    at_signal: int = 0
    finished: int = 0
    cut_off: int = 0

    def begin(self) -> None:
        self.stopping = True
        self.at_signal = self.in_flight


class Guard:
    """Pure ASGI middleware around every request: refuses bodies over --max-body-bytes (413)
    before the app reads them and bodies not received within --body-timeout (408), takes the
    client's address from X-Forwarded-For only when the peer is a trusted proxy, counts and
    times requests for the metrics, and writes one structured access-log line (JSON) per
    request — without the request's texts unless --log-texts.

    It also answers what would otherwise reach uvicorn as a plain-text 500: a bug (logged once,
    a JSON 500 with ``Connection: close``) and a request cut off when the graceful shutdown's
    time is up (a JSON 503 with ``Retry-After``). It sits inside the CORS middleware, so both
    carry CORS headers."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: Metrics, proxies: TrustedProxies,
                 shutdown: Shutdown, largest_file: int | None = None) -> None:
        self.app = app
        self.largest_file = largest_file
        self.settings = settings
        self.metrics = metrics
        self.proxies = proxies
        self.shutdown = shutdown

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        # One metrics label for every download name: the labels stay bounded.
        endpoint = path if path in ROUTES else "/download_file" if path.startswith("/download_file/") else "other"
        start = time.perf_counter()
        status = {"code": 500, "started": False}
        scope["toolkit.log"] = {}
        limit = self.settings.body_limit(path, self.largest_file)
        timeout = self.settings.body_timeout
        headers = dict(scope.get("headers") or [])
        peer = scope.get("client")
        scope["client"] = self.proxies.client(peer, scope.get("headers") or [])
        self.metrics.in_flight.inc()
        self.shutdown.in_flight += 1
        cut_off = False
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                self.metrics.rejected.labels("size").inc()
                status["code"] = 413
                await error_response(413, f"Request body too large (limit: {limit} bytes)")(scope, receive, send)
                return
            received = 0
            body_done = False

            async def counted_receive() -> Any:
                nonlocal received, body_done
                if body_done:  # afterwards only http.disconnect comes (unless_disconnected waits for it)
                    return await receive()
                remaining = start + timeout - time.perf_counter() if timeout else None
                try:
                    message = await asyncio.wait_for(receive(), remaining)
                except asyncio.TimeoutError:
                    self.metrics.rejected.labels("slow").inc()
                    raise ApiError(408, f"Request body not received within {timeout:g} seconds") from None
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    body_done = not message.get("more_body", False)
                    if received > limit:
                        raise ApiError(413, f"Request body too large (limit: {limit} bytes)")
                else:
                    body_done = True
                return message

            async def tracked_send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                    status["started"] = True
                await send(message)

            try:
                await self.app(scope, counted_receive, tracked_send)
            except asyncio.CancelledError:
                if not self.shutdown.stopping:
                    raise
                # uvicorn cancels what is left when --graceful-timeout is up; the answer is ours
                # to give (uvicorn's own would be a plain-text 500). The task ends here.
                cut_off = True
                if not status["started"]:
                    await error_response(503, "The server is shutting down; retry in a moment",
                                         {"Retry-After": "5", "Connection": "close"})(scope, receive, tracked_send)
            except Exception as exc:
                log.error("unexpected error on %s %s", scope.get("method"), endpoint, exc_info=exc)
                if status["started"]:
                    return  # too late for an answer: uvicorn closes the connection
                await error_response(500, "internal server error (the server log has the details)")(
                    scope, receive, tracked_send)
        finally:
            seconds = time.perf_counter() - start
            self.metrics.in_flight.dec()
            self.shutdown.in_flight -= 1
            if self.shutdown.stopping:
                if cut_off:
                    self.shutdown.cut_off += 1
                else:
                    self.shutdown.finished += 1
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            client = scope.get("client")
            entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": "request",
                     "method": scope.get("method"), "path": endpoint, "status": status["code"],
                     "ms": round(seconds * 1000, 1), "client": client[0] if client else None,
                     **scope["toolkit.log"]}
            if client != peer:  # behind a trusted proxy: the address the connection came from, too
                entry["peer"] = peer[0] if peer else None
            access_log.info(json.dumps(entry, ensure_ascii=False))
