"""Markdown blocks, line by line: which lines are translated, which are kept verbatim, and the
cells of table rows (translated one by one, so pipes, alignment rows and cell counts stay).

Verbatim: YAML (``---``) or TOML (``+++``) front matter at the top, fenced code (```` ``` ```` or
``~~~``, closed by a fence of the same character at least as long), multi-line HTML comments,
link reference definitions (``[id]: https://…``) and table alignment rows (``|---|:--:|``).
A footnote definition (``[^1]: La note…``) is text: its label is kept like a list marker.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from toolkit.text.protect import Span

VERBATIM, TEXT, TABLE_ROW = "verbatim", "text", "table-row"

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# Not a footnote definition ("[^1]: La note…"): its text is translated, its label kept.
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[(?!\^)[^\]]+\]:\s*\S+")
_ALIGNMENT_CELL = re.compile(r"^\s*:?-+:?\s*$")


def is_alignment_row(line: str) -> bool:
    stripped = line.strip()
    if "|" not in stripped or "-" not in stripped:
        return False
    cells = stripped.strip("|").split("|")
    return all(_ALIGNMENT_CELL.match(cell) for cell in cells)


def _has_pipe(line: str) -> bool:
    return bool(re.search(r"(?<!\\)\|", line))


def classify_lines(lines: Sequence[str]) -> list[str]:
    """One kind per line: VERBATIM, TEXT or TABLE_ROW."""
    kinds = [TEXT] * len(lines)
    i = 0
    if lines and lines[0].rstrip() in ("---", "+++"):
        closers = ("---", "...") if lines[0].rstrip() == "---" else ("+++",)
        end = next((j for j in range(1, len(lines)) if lines[j].rstrip() in closers), None)
        if end is not None:  # an unclosed "---" is a thematic break, not front matter
            kinds[: end + 1] = [VERBATIM] * (end + 1)
            i = end + 1
    fence: str | None = None
    in_comment = False
    in_table = False
    while i < len(lines):
        line = lines[i]
        opening = _FENCE.match(line)
        row = False
        if fence is not None:
            kinds[i] = VERBATIM
            closing = opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence)
            if closing and not line.strip().strip(fence[0]).strip():
                fence = None
        elif opening:
            kinds[i], fence = VERBATIM, opening.group(1)
        elif in_comment:
            kinds[i] = VERBATIM
            in_comment = "-->" not in line
        elif line.lstrip().startswith("<!--") and "-->" not in line:
            kinds[i], in_comment = VERBATIM, True
        elif _REFERENCE_DEFINITION.match(line):
            kinds[i] = VERBATIM
        elif in_table and _has_pipe(line) and line.strip():
            kinds[i], row = TABLE_ROW, True
        elif _has_pipe(line) and i + 1 < len(lines) and is_alignment_row(lines[i + 1]):
            kinds[i], kinds[i + 1] = TABLE_ROW, VERBATIM
            row = True
            i += 1
        in_table = row
        i += 1
    return kinds


def table_cells(row: str, protected: Sequence[Span]) -> list[tuple[int, int]]:
    """(start, end) of each cell's content: between unescaped pipes that are not inside a
    protected span (a pipe in a code span belongs to the code)."""
    pipes = [i for i, ch in enumerate(row) if ch == "|" and (i == 0 or row[i - 1] != "\\")
             and not any(s.start <= i < s.end for s in protected)]
    bounds = [-1, *pipes, len(row)]
    return [(a + 1, b) for a, b in itertools.pairwise(bounds) if b > a + 1]
