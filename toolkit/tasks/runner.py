"""What every generating command shares: skipping blank documents, progress over documents and
sentences, writing outputs into a run folder with its manifest, or streaming them to stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from toolkit.console import progress, warn
from toolkit.io.documents import Document
from toolkit.errors import InputError
from toolkit.io.results import DocumentResult, document_format, render
from toolkit.io.runs import RunFolder

def drop_blank(docs: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """Blank documents are skipped with a warning; a run with nothing left to do is an error."""
    kept = [d for d in docs if not d.is_blank]
    warnings = [f"{d.source}: empty or whitespace-only document, skipped" for d in docs if d.is_blank]
    if not kept:
        names = ", ".join(d.source for d in docs[:3])
        raise InputError(f"nothing to process: every input is empty or whitespace-only ({names})")
    return kept, warnings


def run_batched(docs: Sequence[Document], process_many: Callable[[Sequence[Document], Callable[[int], None]], list[DocumentResult]],
                units: Callable[[Document], int], description: str, show_progress: bool) -> list[DocumentResult]:
    """Run ``process_many`` (which batches across documents) with one progress bar over all units
    (sentences, or documents for summarisers)."""
    with progress(show_progress) as bar:
        task = bar.add_task(description, total=sum(units(d) for d in docs))
        results = process_many(docs, lambda n: bar.advance(task, n))
        bar.update(task, completed=bar.tasks[0].total)
    return results


def write_results(run: RunFolder, results: Sequence[DocumentResult], fmt: str, subdir: str = "",
                  output_key: str = "output") -> list[dict[str, Any]]:
    """Write each document's output file; return their manifest entries."""
    entries = []
    for result in results:
        doc_fmt = document_format(result, fmt)
        relative = run.path_for(result.id, f".{doc_fmt}", subdir)
        run.write_text(relative, render(result, doc_fmt, output_key), result.newline if doc_fmt != "jsonl" else "\n")
        entries.append(result.to_manifest(relative))
    return entries


def stream_results(results: Sequence[DocumentResult], fmt: str, output_key: str = "output") -> None:
    """``--out -``: outputs to stdout, documents in input order."""
    for result in results:
        text = render(result, fmt, output_key)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def report_warnings(warnings: Sequence[str], where: str | None, limit: int = 5) -> None:
    for message in warnings[:limit]:
        warn(message)
    if len(warnings) > limit:
        suffix = f"; all are in {where}" if where else ""
        warn(f"{len(warnings) - limit} more warnings{suffix}")
