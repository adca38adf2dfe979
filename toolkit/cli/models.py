"""`toolkit models`: find, download and inspect models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.table import Table

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.app import app
from toolkit.cli.common import (
    JsonOption,
    NoPivotOption,
    RegistryOption,
    RevisionOption,
)
from toolkit.cli.output import print_json, stderr, user_errors

models_app = typer.Typer(help="Find, download and inspect models in the Hugging Face cache.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("resolve")
def models_resolve(
    src: Annotated[str, typer.Option("--src", help="Source language (ISO 639-1/3 or NLLB code).")],
    tgt: Annotated[str, typer.Option("--tgt", help="Target language.")],
    no_pivot: NoPivotOption = False,
    registry: RegistryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which model(s) translate SRC → TGT, through which hops, and whether each is cached; downloads nothing."""
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.models.hub import cached_snapshot
        from toolkit.models.registry import load_registry, resolve_route

        route = resolve_route(src, tgt, load_registry(registry) if registry else load_registry(), not no_pivot,
                              {} if registry else load_defaults().translation.models)
        hops = []
        for hop in route.hops:
            local = Path(hop.model).expanduser().is_dir()
            hops.append({**hop.__dict__, "cached": local or cached_snapshot(hop.model) is not None})
        if as_json:
            print_json({"src": route.src, "tgt": route.tgt, "kind": route.kind, "hops": hops})
            return
        table = Table(title=f"{route.src} → {route.tgt}: {route.kind}", title_justify="left")
        for column in ("hop", "model", "kind", "target token / codes", "cached"):
            table.add_column(column)
        for row in hops:
            codes = row["source_prefix"].strip() or (f"{row['src_code']} → {row['tgt_code']}" if row["src_code"] else "–")
            table.add_row(f"{row['src']}→{row['tgt']}", row["model"], row["kind"], codes, "yes" if row["cached"] else "no")
        stderr.print(table)


@models_app.command("info")
def models_info(
    name: Annotated[str, typer.Argument(help="Hugging Face id (cached) or local folder.")],
    as_json: JsonOption = False,
) -> None:
    """Architecture, size, languages and generation defaults of a cached or local model."""
    with user_errors():
        from toolkit.models.hub import model_info

        info = model_info(name)
        if as_json:
            print_json(info)
            return
        table = Table(title=name, title_justify="left", show_header=False)
        table.add_column("field")
        table.add_column("value")
        for key, value in info.items():
            table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
        stderr.print(table)


@models_app.command("download")
def models_download(
    names: Annotated[list[str], typer.Argument(help="Hugging Face model ids.")],
    revision: RevisionOption = None,
) -> None:
    """Fetch models into the standard Hugging Face cache for later offline use."""
    with user_errors():  # library progress bars stay on: downloads take minutes
        from toolkit.models.hub import download

        for name in names:
            path = download(name, revision)
            stderr.print(f"{name}: cached at {path}")


@models_app.command("list")
def models_list(as_json: JsonOption = False) -> None:
    """Models in the local Hugging Face cache, with their size on disk."""
    with user_errors():
        from toolkit.models.hub import cached_models

        rows = cached_models()
        if as_json:
            print_json(rows)
            return
        table = Table(title="Models in the Hugging Face cache", title_justify="left")
        for column in ("model", "revisions", "size (MB)", "path"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["model"], ", ".join(r[:8] for r in row["revisions"]), f"{row['size_bytes'] / 1e6:.1f}", row["path"])
        stderr.print(table if rows else "No models in the Hugging Face cache.")


