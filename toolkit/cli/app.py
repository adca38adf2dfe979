"""The Typer application: one-line usage errors, signals, --version and --debug."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.core

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from toolkit.cli.output import EXIT_SIGINT, EXIT_SIGTERM, EXIT_USER_ERROR, install, report_interrupt, reset_interrupt
from toolkit.runtime import Terminated, handle_termination, raise_if_terminated


def _defer_rich_markdown() -> None:
    """Typer's help renderer imports rich.markdown (markdown-it, ~0.12 s) only to render help in
    markdown mode, which this CLI does not use; stand in for it until something needs it."""
    import types

    if "rich.markdown" in sys.modules:
        return
    stub = types.ModuleType("rich.markdown")

    def real() -> Any:
        import importlib

        if sys.modules.get("rich.markdown") is stub:
            del sys.modules["rich.markdown"]
        return importlib.import_module("rich.markdown")

    class Markdown:  # only called in markdown mode
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real().Markdown(*args, **kwargs)

    stub.Markdown = Markdown  # type: ignore[attr-defined]
    def attribute(name: str) -> Any:
        if name.startswith("__"):  # the import system probes __path__ and the like
            raise AttributeError(name)
        return getattr(real(), name)

    stub.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules["rich.markdown"] = stub


_defer_rich_markdown()


def _one_line(error: ClickException) -> str:
    import re

    param = getattr(error, "param", None)
    message = str(getattr(error, "message", ""))
    bound = re.search(r"(greater|less) than or equal to (\S+)", message)
    if param is not None and bound and getattr(param, "opts", None):
        return f"{param.opts[0]} must be at {'least' if bound.group(1) == 'greater' else 'most'} {bound.group(2)}"
    message = " ".join(error.format_message().split())
    return message[:1].lower() + message[1:]


class _Commands(typer.core.TyperGroup):
    """Every usage error is one line (``toolkit: error: ...``) and exit 2, like the library's
    errors; SIGTERM exits 143 after the same clean-up as Ctrl-C."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        handle_termination()
        reset_interrupt()
        install()
        try:
            value = super().main(args, prog_name, complete_var, standalone_mode=False,
                                 windows_expand_args=windows_expand_args, **extra)
            code = value if isinstance(value, int) else 0
            raise_if_terminated()
            if code == EXIT_SIGINT:  # Typer turns a KeyboardInterrupt outside our handlers into 130, silently
                report_interrupt("interrupted")
        except Terminated:
            report_interrupt("terminated")
            code = EXIT_SIGTERM
        except KeyboardInterrupt:
            report_interrupt("interrupted")
            code = EXIT_SIGINT
        except NoArgsIsHelpError as error:
            print(error.ctx.get_help() if error.ctx else "", file=sys.stderr)
            code = EXIT_USER_ERROR
        except ClickException as error:
            print(f"toolkit: error: {_one_line(error)}", file=sys.stderr)
            code = error.exit_code
        except typer.Abort:
            report_interrupt("interrupted")
            code = EXIT_SIGINT
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Commands,
    help="Translate and summarise multilingual news, evaluate the results, benchmark the models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from toolkit.version import __version__ as toolkit_version

        typer.echo(f"toolkit {toolkit_version}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    debug: Annotated[bool, typer.Option("--debug/--no-debug", help="Log at DEBUG level and show tracebacks (also: TOOLKIT_LOG=debug).")] = False,
) -> None:
    """Translate and summarise multilingual news, evaluate the results, benchmark the models."""
    from toolkit.runtime import set_debug

    set_debug(debug)


