"""Running the app under uvicorn: bind, serve, and on SIGTERM or Ctrl-C stop accepting, let the
requests in flight finish (up to ``--graceful-timeout`` seconds), then unload the models."""

from __future__ import annotations

import logging
import math
import socket
import sys

from toolkit.errors import ToolkitError
from toolkit.serve.settings import ServeSettings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _check_port(host: str, port: int) -> None:
    """A port in use is a one-line error before any model or catalog work, not a traceback later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ToolkitError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def configure_logging() -> None:
    """Server and access logs on stderr, one line each; access lines are bare JSON objects (with
    their own timestamp), so a log shipper can parse them as they are."""
    for name, fmt in (("toolkit.serve", _FORMAT), ("toolkit.serve.access", "%(message)s")):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(fmt))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve(settings: ServeSettings) -> None:
    """Serve until SIGTERM/SIGINT. Re-raises the signal afterwards (uvicorn does), so the CLI
    exits with the usual 143/130."""
    try:
        import uvicorn

        from toolkit.serve.app import create_app
    except ImportError as exc:
        raise ToolkitError(f"toolkit serve needs the serve extra ({exc.name} is missing): "
                           "pip install 'toolkit[serve]'") from None
    settings.check()
    _check_port(settings.host, settings.port)
    configure_logging()
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False, log_level="info",
                            timeout_graceful_shutdown=math.ceil(settings.graceful_timeout), lifespan="on",
                            server_header=False)
    uvicorn.Server(config).run()
