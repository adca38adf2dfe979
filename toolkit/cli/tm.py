"""`toolkit tm`: inspect, bound and export a translation memory (`translate --tm PATH`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from toolkit.cli.app import app
from toolkit.cli.common import JsonOption
from toolkit.cli.output import print_json, printable, stderr, user_errors
from toolkit.errors import ToolkitError

tm_app = typer.Typer(help="Inspect, prune and export a translation memory (translate --tm PATH).",
                     no_args_is_help=True)
app.add_typer(tm_app, name="tm")

MemoryPath = Annotated[Path, typer.Argument(help="The translation-memory file (SQLite).")]


@tm_app.command("stats")
def tm_stats(path: MemoryPath, as_json: JsonOption = False) -> None:
    """Entries, size, bound, and entries per model and route."""
    with user_errors():
        from toolkit.io.memory import MemoryFile

        stats = MemoryFile(path, create=False).stats()
        if as_json:
            print_json(stats)
            return
        table = Table(title=f"{printable(str(path))}: {stats['entries']} entries of at most {stats['max_entries']}, "
                            f"{stats['bytes'] / 1e6:.1f} MB", title_justify="left")
        for column in ("context", "pair", "model", "entries"):
            table.add_column(column, justify="right" if column == "entries" else "left")
        for row in stats["contexts"]:
            table.add_row(row["context"], f"{row['source_lang']}→{row['target_lang']}", printable(str(row["model"])),
                          str(row["entries"]))
        stderr.print(table)


@tm_app.command("prune")
def tm_prune(
    path: MemoryPath,
    max_entries: Annotated[int | None, typer.Option("--max-entries", min=1, help="Keep at most this many (least recently used go first); also becomes the file's bound.")] = None,
    older_than: Annotated[float | None, typer.Option("--older-than-days", min=0, help="Delete entries unused for this many days.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the least recently used entries beyond a bound, or those unused for a while."""
    with user_errors():
        from toolkit.io.memory import MemoryFile

        memory = MemoryFile(path, create=False)
        if max_entries is not None:
            memory.set_max_entries(max_entries)
        deleted = memory.prune(max_entries, older_than)
        remaining = memory.stats()["entries"]
        if as_json:
            print_json({"path": str(path), "deleted": deleted, "entries": remaining})
        else:
            stderr.print(f"Deleted {deleted} entries; {remaining} left")


@tm_app.command("export")
def tm_export(
    path: MemoryPath,
    out: Annotated[Path, typer.Option("--out", "-o", help="The TMX file to write.")],
    overwrite: Annotated[bool, typer.Option("--overwrite/--no-overwrite", help="Replace --out if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the memory as TMX 1.4b, the translation-memory format CAT tools read."""
    with user_errors():
        import toolkit
        from toolkit.io.memory import MemoryFile, export_tmx

        memory = MemoryFile(path, create=False)
        if out.exists() and not overwrite:
            raise ToolkitError(f"--out {out}: exists (pass --overwrite to replace it)")
        if out.is_dir():
            raise ToolkitError(f"--out {out}: is a folder; give a file name such as memory.tmx")
        if not out.parent.is_dir():
            raise ToolkitError(f"--out {out}: folder {out.parent} does not exist")
        count = export_tmx(memory, out, toolkit.__version__)
        if as_json:
            print_json({"path": str(path), "out": str(out), "units": count})
        else:
            stderr.print(f"Wrote {count} translation units to {out}")
