"""HTTP plumbing shared by the endpoints: the error type and its one-line JSON answer, reading
parameters from JSON or form bodies as LibreTranslate does, and the middleware that guards every
request (body size, metrics, access log)."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from toolkit.serve.metrics import Metrics
from toolkit.serve.settings import ServeSettings

access_log = logging.getLogger("toolkit.serve.access")

ROUTES = ("/", "/translate", "/detect", "/languages", "/summarize", "/health", "/metrics", "/docs", "/openapi.json")
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
    """One line, no server paths."""
    return _PATH.sub("<path>", " ".join(str(message).split()))


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": public(message)}, status_code=status, headers=headers)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def optional_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid request: {name} parameter is not a number") from None
    if number < 0 or isinstance(value, bool):
        raise ApiError(400, f"Invalid request: {name} must not be negative")
    return number


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
    return params


def _collect(items: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in items:
        if key in params:
            params[key] = (params[key] if isinstance(params[key], list) else [params[key]]) + [value]
        else:
            params[key] = value
    return params


class Guard:
    """Pure ASGI middleware around every request: refuses bodies over --max-body-bytes (413)
    before the app reads them, counts and times requests for the metrics, and writes one
    structured access-log line (JSON) per request — without the request's texts unless
    --log-texts."""

    def __init__(self, app: Any, settings: ServeSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        endpoint = path if path in ROUTES else "other"
        start = time.perf_counter()
        status = {"code": 500}
        scope["toolkit.log"] = {}
        limit = self.settings.max_body_bytes
        headers = dict(scope.get("headers") or [])
        self.metrics.in_flight.inc()
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                self.metrics.rejected.labels("size").inc()
                status["code"] = 413
                await error_response(413, f"Request body too large (limit: {limit} bytes)")(scope, receive, send)
                return
            received = 0

            async def counted_receive() -> Any:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise ApiError(413, f"Request body too large (limit: {limit} bytes)")
                return message

            async def tracked_send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            await self.app(scope, counted_receive, tracked_send)
        finally:
            seconds = time.perf_counter() - start
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            client = scope.get("client")
            entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": "request",
                     "method": scope.get("method"), "path": endpoint, "status": status["code"],
                     "ms": round(seconds * 1000, 1), "client": client[0] if client else None,
                     **scope["toolkit.log"]}
            access_log.info(json.dumps(entry, ensure_ascii=False))
