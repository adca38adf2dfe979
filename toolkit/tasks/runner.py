"""Running a task over documents with one progress bar over their units (sentences, chunks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from toolkit.io.documents import Document
from toolkit.io.results import DocumentResult
from toolkit.runtime import progress


def run_batched(docs: Sequence[Document], process_many: Callable[[Sequence[Document], Callable[[int], None]], list[DocumentResult]],
                units: Callable[[Document], int], description: str, show_progress: bool) -> list[DocumentResult]:
    """Run ``process_many`` (which batches across documents) with one progress bar over all units
    (sentences, or documents for summarisers)."""
    with progress(description, sum(units(d) for d in docs), show_progress) as bar:
        results = process_many(docs, bar.advance)
        bar.complete()
    return results
