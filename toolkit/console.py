"""Human output on stderr (rich), machine output on stdout (JSON), and one-line user errors."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from toolkit.errors import ToolkitError

# Logs and CI captures are not terminals: rich would wrap them at 80 columns.
stderr = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
# Exit codes, the same for every command (README, "Safety"): 1 is an unexpected failure (a bug).
EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_PARTIAL = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that run folders clean up as on Ctrl-C."""


_signalled: list[int] = []


def _raise_terminated(signum: int, frame: Any) -> None:
    _signalled.append(signum)
    raise Terminated()


def raise_if_terminated() -> None:
    """Raise again for a SIGTERM whose exception something swallowed (an import, a finaliser)."""
    if _signalled:
        raise Terminated()


def handle_termination() -> None:
    """Turn SIGTERM into an exception (main thread only, as signal handlers must be)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def quiet_libraries() -> None:
    """Silence library chatter (download/loading bars, advisory warnings) that is not ours to show
    (unless debugging)."""
    if debugging():
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*sacremoses.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    # transformers is not imported for this (it costs a second): its logging is quieted when,
    # and only if, something imports it.
    after_import("transformers.utils.logging", _quiet_transformers)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)


_debug: list[bool] = []


def set_debug(enabled: bool) -> None:
    """``--debug`` or ``TOOLKIT_LOG=debug``: log through the standard ``logging`` module at
    DEBUG level and show tracebacks, also for errors a user caused."""
    enabled = enabled or os.environ.get("TOOLKIT_LOG", "").lower() == "debug"
    _debug[:] = [enabled]
    level = os.environ.get("TOOLKIT_LOG", "").upper()
    logging.basicConfig(level=logging.DEBUG if enabled else getattr(logging, level, logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def debugging() -> bool:
    return bool(_debug and _debug[0])


def _quiet_transformers(hf_logging: Any) -> None:
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``action(module)`` once ``name`` has been imported (see after_import)."""

    def __init__(self, name: str, action: Callable[[Any], None]) -> None:
        self.name, self.action = name, action

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        original, action = spec.loader.exec_module, self.action

        def exec_module(module: Any) -> None:
            original(module)
            action(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def after_import(name: str, action: Callable[[Any], None]) -> None:
    """``action(module)`` now if ``name`` is imported already, else right after it is imported."""
    if name in sys.modules:
        action(sys.modules[name])
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, action))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Render ToolkitError as one line on stderr and exit 2; Ctrl-C exits 130 without a traceback."""
    try:
        yield
    except ToolkitError as exc:
        if debugging():
            import traceback

            traceback.print_exc()
        print(f"toolkit: error: {printable(str(exc))}", file=sys.stderr)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        report_interrupt("interrupted")
        raise typer.Exit(EXIT_SIGINT) from None
    except Terminated:
        report_interrupt("terminated")
        raise typer.Exit(EXIT_SIGTERM) from None


# What an interrupted run leaves: nothing, except a corpus run's committed shards (set by it).
_interrupt_note = ["nothing was written"]
_interrupt_reported: list[bool] = []


def set_interrupt_note(note: str) -> None:
    _interrupt_note[0] = note


def reset_interrupt() -> None:
    """A new command (the tests run several in one process)."""
    _interrupt_note[0] = "nothing was written"
    _interrupt_reported.clear()


def report_interrupt(kind: str) -> None:
    """One line for SIGINT / SIGTERM, once, whichever handler sees it first."""
    if not _interrupt_reported:
        _interrupt_reported.append(True)
        print(f"toolkit: {kind}; {_interrupt_note[0]}", file=sys.stderr)


def progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=stderr, disable=not enabled, transient=False,
    )


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def printable(text: str) -> str:
    """``text`` with control characters escaped, for terminals and logs: a document id or a
    message quoting one can never move the cursor, clear the screen or forge a line."""
    import unicodedata

    return "".join(ch if ch == " " or unicodedata.category(ch)[0] != "C" else ascii(ch)[1:-1] for ch in text)


def warn(message: str) -> None:
    from rich.markup import escape

    stderr.print(f"[yellow]warning:[/yellow] {escape(printable(message))}", markup=True, highlight=False,
                 soft_wrap=True)


def report_warnings(warnings: Sequence[str], where: str | None, limit: int = 5) -> None:
    for message in warnings[:limit]:
        warn(message)
    if len(warnings) > limit:
        suffix = f"; all are in {where}" if where else ""
        warn(f"{len(warnings) - limit} more warnings{suffix}")
