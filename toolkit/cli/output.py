"""The CLI's rendering: human output on stderr (rich), machine output on stdout (JSON), one-line
user errors and the exit codes. The library reports through toolkit/runtime.py; this module is
where the CLI shows what it reports."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console

from toolkit.errors import OptionError, ToolkitError
from toolkit.runtime import (
    ProgressBar,
    Terminated,
    debugging,
    rich_bar,
    set_progress_display,
    user_log,
)


class _StderrConsole(Console):
    def on_broken_pipe(self) -> None:
        # rich's own handler exits 1 (an unexpected failure, by the exit codes below) and leaves
        # stderr on the closed pipe; a reader that left (`2>&1 | head -1`) is not a failure.
        self.quiet = True
        reader_left()


# Logs and CI captures are not terminals: rich would wrap them at 80 columns.
stderr = _StderrConsole(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
# Exit codes, the same for every command (README, "Safety"): 1 is an unexpected failure (a bug).
EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_PARTIAL = 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

# How an option field of the library is spelled on the command line, for errors that name what
# the user typed (the library's errors name the field; the server shows the field as it is).
FLAGS = {"num_beams": "--beams", "max_length": "--max-length", "max_new_tokens": "--max-new-tokens",
         "min_length": "--min-length", "no_repeat_ngram_size": "--no-repeat-ngram",
         "length_penalty": "--length-penalty", "batch_size": "--batch-size", "threads": "--threads",
         "backend": "--backend", "dtype": "--dtype", "device": "--device", "quantization": "--quantization",
         "revision": "--revision", "shard_size": "--shard-size", "engine": "--engine",
         "ray_address": "--ray-address", "actors": "--actors", "memory": "--tm",
         "memory_max_entries": "--tm-max-entries"}


def error_line(exc: ToolkitError, flags: Mapping[str, str] = FLAGS) -> str:
    """The one line a user error prints: an option field it names is spelled as its flag."""
    if isinstance(exc, OptionError) and exc.field in flags:
        return f"{flags[exc.field]}: {exc.reason}"
    return str(exc)

@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Render ToolkitError as one line on stderr and exit 2; Ctrl-C exits 130 without a traceback."""
    try:
        yield
    except ToolkitError as exc:
        if debugging():
            import traceback

            traceback.print_exc()
        print(f"toolkit: error: {printable(error_line(exc))}", file=sys.stderr)
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


@contextlib.contextmanager
def _bar(description: str, total: int | None, completed: int) -> Iterator[ProgressBar]:
    with rich_bar(stderr, description, total, completed) as bar:
        yield bar


def reader_left() -> NoReturn:
    """The reader of stdout or stderr left (``… 2>&1 | head -1``): stop quietly with the shell's
    broken-pipe status, as a shell pipeline expects. Both streams are pointed at the null device
    so that nothing more is written to the closed pipe, not even at interpreter exit."""
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    raise typer.Exit(EXIT_BROKEN_PIPE)


@contextlib.contextmanager
def reader_may_leave() -> Iterator[None]:
    """A command's closing report (JSON on stdout, the summary on stderr), whose reader may leave
    early: the work is done and committed, so a closed pipe ends the command quietly
    (``reader_left``), not with a traceback or Click's exit 1."""
    try:
        yield
    except BrokenPipeError:
        reader_left()


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


class _WarningLines(logging.Handler):
    """The library's user warnings (toolkit.user) as the CLI's ``warning:`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def install() -> None:
    """Show the library's progress and user warnings on the CLI's console."""
    set_progress_display(_bar)
    if not any(isinstance(h, _WarningLines) for h in user_log.handlers):
        user_log.addHandler(_WarningLines())
        user_log.propagate = False
