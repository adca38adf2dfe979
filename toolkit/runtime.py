"""What the library needs from the process it runs in, without knowing whether that is the CLI,
the server or someone's Python code: signal handling, quieting other libraries, debug mode,
warnings (through ``logging``) and a small progress interface the front ends implement.

Nothing here imports typer or the CLI (tests/test_layers.py checks it)."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Protocol

# Warnings meant for the user (a skipped record, a long segment) go to this logger: the CLI shows
# them as `warning: ...` lines, a Python caller sees them through its own logging set-up.
user_log = logging.getLogger("toolkit.user")


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


def reset_termination() -> None:
    """A new command in the same process (the tests run several)."""
    _signalled.clear()


_debug: list[bool] = []


def set_debug(enabled: bool) -> None:
    """``--debug`` or ``TOOLKIT_LOG=debug``: log through the standard ``logging`` module at
    DEBUG level and show tracebacks, also for errors a user caused."""
    enabled = enabled or os.environ.get("TOOLKIT_LOG", "").lower() == "debug"
    _debug[:] = [enabled]
    level = os.environ.get("TOOLKIT_LOG", "").upper()
    handler = logging.StreamHandler()
    # Without --debug a diagnostic that reaches the user is one plain line ("warning: ..."), as
    # the CLI's own; timestamps and logger names are for debugging.
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s") if enabled
                         else _PlainLines())
    logging.basicConfig(level=logging.DEBUG if enabled else getattr(logging, level, logging.WARNING),
                        handlers=[handler])


class _PlainLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def debugging() -> bool:
    return bool(_debug and _debug[0])


def quiet_libraries() -> None:
    """Silence library chatter (download/loading bars, advisory warnings) that is not ours to show
    (unless debugging): Python warnings of other libraries go to ``logging`` (seen with --debug)."""
    if debugging():
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*sacremoses.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    # torch's dynamic quantisation (`--backend torch --quantization int8`) warns, in several lines,
    # that its quantized tensors are deprecated: not the user's to fix (shown with --debug).
    warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
    warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
    # transformers is not imported for this (it costs a second): its logging is quieted when,
    # and only if, something imports it.
    after_import("transformers.utils.logging", _quiet_transformers)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)


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


def warn(message: str) -> None:
    """A warning for the user (not a diagnostic): the CLI renders it as one ``warning:`` line."""
    user_log.warning(message)


class ProgressBar(Protocol):
    """What the library reports while it works; a front end decides how to show it."""

    def advance(self, n: int = 1) -> None: ...

    def note(self, text: str) -> None:
        """A short status beside the bar (a rate)."""

    def complete(self) -> None:
        """The work is done (units may have been estimated)."""


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def complete(self) -> None:
        pass


ProgressDisplay = Callable[[str, "int | None", int], contextlib.AbstractContextManager[ProgressBar]]


@contextlib.contextmanager
def _rich_display(description: str, total: int | None, completed: int) -> Iterator[ProgressBar]:
    """The default display for Python callers: a rich bar on stderr."""
    from rich.console import Console

    with rich_bar(Console(stderr=True), description, total, completed) as bar:
        yield bar


_display: list[ProgressDisplay] = [_rich_display]


def set_progress_display(display: ProgressDisplay) -> None:
    """The CLI shows bars on its own console (so warnings print above them)."""
    _display[0] = display


def progress(description: str, total: int | None, enabled: bool = True,
             completed: int = 0) -> contextlib.AbstractContextManager[ProgressBar]:
    """A progress bar over ``total`` units, or one that shows nothing when not ``enabled``."""
    if not enabled:
        return contextlib.nullcontext(_Silent())
    return _display[0](description, total, completed)


class _RichBar:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task, n)

    def note(self, text: str) -> None:
        self.bar.update(self.task, note=text)

    def complete(self) -> None:
        total = self.bar.tasks[0].total
        if total is not None:
            self.bar.update(self.task, completed=total)


@contextlib.contextmanager
def rich_bar(console: Any, description: str, total: int | None, completed: int) -> Iterator[ProgressBar]:
    """A rich progress bar on ``console``: description, bar, n/total, note, elapsed, ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False) as bar:
        yield _RichBar(bar, bar.add_task(description, total=total, completed=completed, note=""))
