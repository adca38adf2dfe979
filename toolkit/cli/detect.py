"""`toolkit detect`: language identification, offline."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.app import app
from toolkit.cli.common import (
    EncodingOption,
    Inputs,
    JsonOption,
    read_documents,
)
from toolkit.cli.output import print_json, printable, stderr, user_errors


@app.command()
def detect(
    inputs: Inputs,
    encoding: EncodingOption = "utf-8",
    as_json: JsonOption = False,
) -> None:
    """Identify the language of each document (and of each paragraph), offline."""
    with user_errors():
        from toolkit.cli.output import report_warnings
        from toolkit.text.detect import detect as detect_text

        docs, warnings, _ = read_documents(inputs, encoding)  # nothing but blank inputs is an error
        report_warnings(warnings, None)
        rows = [{"id": d.id, "source": d.source, **detect_text(d.text).to_dict()} for d in docs]
        if as_json:
            print_json(rows)
            return
        table = Table(title="Detected languages", title_justify="left")
        for column in ("document", "language", "confidence", "mixed", "paragraph languages"):
            table.add_column(column)
        for row in rows:
            table.add_row(Text(printable(row["id"])), row["lang"], f"{row['confidence']:.2f}", "yes" if row["mixed"] else "no",
                          ", ".join(f"{k} {v:.0%}" for k, v in row["languages"].items()))
        stderr.print(table)


