"""Markdown tables, the one writer every report uses (evaluation, benchmark, development benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[bool] | None = None) -> list[str]:
    """The lines of a GitHub-flavoured Markdown table; ``numeric`` columns are right-aligned.
    Pipes inside cells are escaped so that a value can never add a column."""
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    align = ["---:" if numeric and numeric[i] else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines
