"""The `toolkit` command line: thin commands that parse options, call the library and render
the result. Each command group has its module; importing this package registers them all."""

from __future__ import annotations

from toolkit.cli.app import app

# The order of registration is the order of `toolkit --help`.
# isort: off
from toolkit.cli import generate  # noqa: F401  translate, summarize, pipeline
from toolkit.cli import detect  # noqa: F401
from toolkit.cli import evaluate  # noqa: F401
from toolkit.cli import review  # noqa: F401
from toolkit.cli import benchmark  # noqa: F401
from toolkit.cli import models  # noqa: F401
from toolkit.cli import tm  # noqa: F401  translation memory (#29)
# isort: on


def _add_serve() -> None:
    """`toolkit serve` (issue #17): its options live in toolkit/serve/command.py; nothing of the
    server's extra is imported until it runs."""
    from toolkit.serve.command import serve

    app.command(name="serve")(serve)


_add_serve()


def main() -> None:
    """The `toolkit` process. An interrupted run (Ctrl-C, SIGTERM) leaves at once, once its one
    line is out and its folder tidy: a normal exit would wait for native decoding threads
    (CTranslate2's) to finish every batch already in flight, for seconds or minutes."""
    import contextlib
    import os
    import sys

    from toolkit.cli.output import EXIT_SIGINT, EXIT_SIGTERM

    try:
        app()
    except SystemExit as leaving:
        if leaving.code in (EXIT_SIGINT, EXIT_SIGTERM):
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(int(leaving.code))
        raise


if __name__ == "__main__":
    main()


__all__ = ["app", "main"]
