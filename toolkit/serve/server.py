"""Running the app under uvicorn: bind, serve, and on SIGTERM or Ctrl-C stop accepting, let the
requests in flight finish (up to ``--graceful-timeout`` seconds; those still running then are
answered 503), unload the models, and say what happened to the requests in flight."""

from __future__ import annotations

import logging
import math
import socket
import sys
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.serve.settings import ServeSettings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
log = logging.getLogger("toolkit.serve")
# Descriptors kept for the process itself beyond its connections: model files, logs, threads' pipes.
_SPARE_FDS = 256


def _check_port(host: str, port: int) -> None:
    """A port in use is a one-line error before any model or catalog work, not a traceback later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ToolkitError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged, not the stream of the moment the
    handler was made: a server started again in the same process (tests, the Python API) would
    otherwise write to a stream a previous caller has closed."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging() -> None:
    """Server and access logs on stderr, one line each; access lines are bare JSON objects (with
    their own timestamp), so a log shipper can parse them as they are."""
    from toolkit.serve.connections import ThrottledAcceptErrors

    for name, fmt in (("toolkit.serve", _FORMAT), ("toolkit.serve.access", "%(message)s")):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = _CurrentStderr()
            handler.setFormatter(logging.Formatter(fmt))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, ThrottledAcceptErrors) for f in asyncio_log.filters):
        asyncio_log.addFilter(ThrottledAcceptErrors())


def raise_fd_limit(max_connections: int) -> int:
    """Raise this process's soft limit on open files to the hard limit (each connection holds one),
    and return how many connections fit under it."""
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to raise
        return max_connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + _SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft - _SPARE_FDS < max_connections:
        fits = max(1, soft - _SPARE_FDS)
        log.warning("--max-connections %d does not fit the open-file limit (%d): using %d; raise `ulimit -n`",
                    max_connections, soft, fits)
        return fits
    return max_connections


def uvicorn_config(app: Any, settings: ServeSettings, log_level: str = "info", max_connections: int | None = None) -> Any:
    """uvicorn's settings for ``app``: our connection layer (timeouts, connection limit, JSON
    400s) and no proxy headers (the app trusts X-Forwarded-For only from --forwarded-allow-ips)."""
    import uvicorn

    from toolkit.serve.connections import ConnectionLimits, listen_backlog, protocol_class

    limits = ConnectionLimits(max_connections or settings.max_connections, settings.header_timeout)
    app.state.connections = limits
    return uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False, log_level=log_level,
                          timeout_graceful_shutdown=math.ceil(settings.graceful_timeout), lifespan="on",
                          server_header=False, http=protocol_class(limits), proxy_headers=False,
                          timeout_keep_alive=max(1, math.ceil(settings.keep_alive_timeout)),
                          h11_max_incomplete_event_size=settings.max_header_bytes,
                          backlog=listen_backlog(limits.max_connections))


def make_server(config: Any) -> Any:
    """A uvicorn server that notes, when it starts to shut down, how many requests are in flight."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            config.app.state.shutdown.begin()
            await super().shutdown(sockets)

    return Server(config)


def serve(settings: ServeSettings) -> Any:
    """Serve until SIGTERM/SIGINT. Re-raises the signal afterwards (uvicorn does), so the CLI
    exits with the usual 143/130; the exception carries ``shutdown`` (what happened to the
    requests in flight)."""
    try:
        import uvicorn  # noqa: F401

        from toolkit.serve.app import create_app
    except ImportError as exc:
        raise ToolkitError(f"toolkit serve needs the serve extra ({exc.name} is missing): "
                           "pip install 'toolkit[serve]'") from None
    settings.check()
    _check_port(settings.host, settings.port)
    configure_logging()
    app = create_app(settings)
    server = make_server(uvicorn_config(app, settings, max_connections=raise_fd_limit(settings.max_connections)))
    try:
        server.run()
    except BaseException as exc:
        exc.shutdown = app.state.shutdown  # type: ignore[attr-defined]
        raise
    return app.state.shutdown
