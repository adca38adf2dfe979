"""One shard of a record corpus, processed: the unit of work of every engine (local, Ray).

A ``CorpusJob`` is a picklable description of the task (models, languages, options); ``build()``
loads the models once, where the work runs (this process, or a Ray actor), and gives a
``CorpusTask``. ``ShardProcessor`` reads a shard, runs the task over it in fixed chunks and
returns a ``ShardOutput``: the output lines, the per-document details and the failures, ready to
be committed. Everything here is deterministic for given inputs and settings.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.io.documents import Document, chunked
from toolkit.io.shards import CorpusRecord, ShardSpec, read_shard

log = logging.getLogger(__name__)

# Documents per task call inside a shard: the batches' composition (hence the exact outputs)
# depends on it, so it is a constant, the same for every engine and every resumed run.
CHUNK_DOCUMENTS = 64


@dataclass
class DocumentOutput:
    """What the task made of one document: the fields added to its output record (e.g.
    ``translation``, ``source_lang``), and its details (tokens, alignment, warnings)."""

    fields: dict[str, Any]
    details: dict[str, Any]
    source_tokens: int = 0
    output_tokens: int = 0
    # Its quality summary (toolkit.quality.annotate.run_summary) when its sentences were assessed.
    quality: dict[str, Any] | None = None


class CorpusTask(Protocol):
    def run(self, docs: Sequence[Document], on_progress: Callable[[int], None] | None = None
            ) -> list[DocumentOutput | str]:
        """One output per document, in order, or the reason it cannot be processed (a skipped
        language); raises when the chunk cannot be processed."""
        ...

    def describe(self) -> dict[str, Any]:
        """The models and settings used, for the manifest."""
        ...



class CorpusJob(Protocol):
    command: str  # translate | summarize | pipeline

    def build(self) -> CorpusTask:
        """Load the models (once per process or actor)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """The settings that decide the outputs (``--resume`` refuses when they change)."""
        ...

    def with_threads(self, threads: int) -> CorpusJob:
        """The same job with ``threads`` inference threads (what a Ray actor is given)."""
        ...


@dataclass
class ShardOutput:
    index: int
    records: int  # input records in the shard
    lines: list[str] = field(default_factory=list)  # output records, JSON, in input order
    details: list[str] = field(default_factory=list)  # one per output record, JSON
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: int = 0
    source_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    description: dict[str, Any] | None = None
    worker: str = ""
    units: dict[str, int] = field(default_factory=dict)  # translation units of this shard (decoded, …)
    quality: dict[str, Any] | None = None  # counts per risk and flag, worst sentences (assessed runs)

    @property
    def outputs(self) -> int:
        return len(self.lines)


def _unit_counts(task: CorpusTask) -> dict[str, int]:
    """A task's translation units so far (asked for, decoded, deduplicated, from the memory; #29).
    ``unit_counts`` is optional: a task of one's own that translates nothing need not have it."""
    counts: Callable[[], dict[str, int]] | None = getattr(task, "unit_counts", None)
    return counts() if counts is not None else {}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class ShardProcessor:
    """Runs a task over shards; a failing chunk is retried document by document so that one
    bad record fails alone, with its reason in ``failures.jsonl``."""

    def __init__(self, task: CorpusTask, worker: str = "local") -> None:
        self.task = task
        self.worker = worker
        self.succeeded = 0

    def process(self, spec: ShardSpec, on_progress: Callable[[int], None] | None = None) -> ShardOutput:
        start = time.perf_counter()
        before = _unit_counts(self.task)
        out = ShardOutput(spec.index, spec.records, worker=self.worker)
        records = read_shard(spec)
        for chunk in chunked(records, CHUNK_DOCUMENTS):
            self._process_chunk(chunk, out)
            if on_progress is not None:
                on_progress(len(chunk))
        out.seconds = time.perf_counter() - start
        out.description = self.task.describe()
        out.units = {k: v - before.get(k, 0) for k, v in _unit_counts(self.task).items()}
        return out

    def _process_chunk(self, chunk: list[CorpusRecord], out: ShardOutput) -> None:
        usable = [r for r in chunk if r.document is not None and not r.document.is_blank]
        done: dict[int, DocumentOutput | str] = {}
        if usable:
            try:
                outputs = self.task.run([r.document for r in usable if r.document is not None])
                done = {id(r): o for r, o in zip(usable, outputs)}
            except Exception as exc:  # isolated below, record by record
                log.debug("chunk of shard %d failed (%s); retrying its documents one by one", out.index, exc)
                done = {id(r): self._alone(r) for r in usable}
                if not self.succeeded and not _is_user_error(exc) and all(isinstance(v, str) for v in done.values()):
                    raise  # nothing has ever worked: a broken run (a bug, no memory), not bad records
            self.succeeded += sum(not isinstance(v, str) for v in done.values())
        for record in chunk:
            result = done.get(id(record))
            if record.error is not None:
                out.failures.append(_failure(record, record.error))
            elif record.document is not None and record.document.is_blank:
                out.lines.append(_dumps({**(record.record or {}), **_blank_fields(self.task)}))
                out.details.append(_dumps({"id": record.document.id, "warnings": ["empty or whitespace-only text"]}))
                out.warnings += 1
            elif isinstance(result, str):
                out.failures.append(_failure(record, result))
            elif result is not None:
                out.lines.append(_dumps({**(record.record or {}), **result.fields}))
                out.details.append(_dumps({"id": record.id, **result.details}))
                out.warnings += len(result.details.get("warnings", []))
                out.source_tokens += result.source_tokens
                out.output_tokens += result.output_tokens
                if result.quality is not None:
                    out.quality = _add_quality(out.quality, result.quality, record.id)

    def _alone(self, record: CorpusRecord) -> DocumentOutput | str:
        assert record.document is not None
        try:
            return self.task.run([record.document])[0]
        except Exception as exc:  # one record's failure is reported, not raised
            log.debug("document %s failed", record.document.id, exc_info=True)
            return f"{type(exc).__name__}: {exc}" if not _is_user_error(exc) else str(exc)


def _add_quality(total: dict[str, Any] | None, document: dict[str, Any], doc_id: str) -> dict[str, Any] | None:
    """A shard's quality summary with one more document's (its worst sentences under the record's id)."""
    from toolkit.quality.annotate import merge_summaries

    named = {**document, "worst": [{**entry, "doc_id": doc_id} for entry in document.get("worst", [])]}
    return merge_summaries([total, named])


def _is_user_error(exc: Exception) -> bool:
    from toolkit.errors import ToolkitError

    return isinstance(exc, ToolkitError)


def _blank_fields(task: CorpusTask) -> dict[str, Any]:
    """A blank document's output record: its empty result(s), nothing to run."""
    keys = getattr(task, "output_keys", ("output",))
    return dict.fromkeys(keys, "")


def _failure(record: CorpusRecord, reason: str) -> dict[str, Any]:
    return {"id": record.id, "input": record.origin, "reason": reason}
