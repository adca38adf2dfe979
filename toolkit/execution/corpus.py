"""Running a job over a record corpus: plan the shards, skip those already committed, process
the rest here (``local``) or on Ray, and commit each one, in order, as it finishes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from toolkit.execution.work import CorpusJob, ShardOutput, ShardProcessor
from toolkit.io.runs import base_manifest
from toolkit.io.sharded_run import ShardedRun
from toolkit.io.shards import ShardSpec, input_fingerprint, plan_shards
from toolkit.options import CorpusOptions


class ShardSink(Protocol):
    """Where committed shards go: a run folder, or stdout."""

    done: dict[int, dict[str, Any]]

    def commit(self, index: int, lines: list[str], details: list[str], summary: dict[str, Any],
               description: dict[str, Any] | None = None) -> dict[str, Any]: ...

    @property
    def description(self) -> dict[str, Any] | None: ...


class ReaderGone(Exception):
    """stdout was closed by its reader (``| head``)."""


class StdoutSink:
    """``--out -``: output records on stdout, in input order, as shards finish."""

    def __init__(self) -> None:
        self.done: dict[int, dict[str, Any]] = {}
        self._description: dict[str, Any] | None = None
        # The stdout of now: Ray, while it runs, points sys.stdout away from the data stream.
        self.stream = sys.stdout

    def commit(self, index: int, lines: list[str], details: list[str], summary: dict[str, Any],
               description: dict[str, Any] | None = None) -> dict[str, Any]:
        from toolkit.runtime import warn

        try:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wants
            raise ReaderGone() from None
        for failure in summary.get("failures", []):
            warn(f"{failure['input']} (id {failure['id']!r}): {failure['reason']}")
        # Counts only: a corpus with many failing records must not grow the memory.
        entry = {"shard": index, **{k: v for k, v in summary.items() if k != "failures"}}
        self.done[index] = entry
        self._description = description or self._description
        return entry

    @property
    def description(self) -> dict[str, Any] | None:
        return self._description


@dataclass
class CorpusResult:
    records: int = 0
    outputs: int = 0
    failed: int = 0
    warnings: int = 0
    source_tokens: int = 0
    output_tokens: int = 0
    shards: int = 0
    resumed_shards: int = 0
    resumed_records: int = 0
    processed_source_tokens: int = 0  # by this process (not the shards a resumed run kept)
    seconds: float = 0.0  # wall time of this process's work
    first_output_seconds: float | None = None
    cluster: dict[str, Any] | None = None
    run_dir: Path | None = None
    units: dict[str, int] = field(default_factory=dict)  # translation units: decoded, deduplicated, from memory
    quality: dict[str, Any] | None = None  # the shards' quality summaries added up (assessed runs)

    def totals(self) -> dict[str, Any]:
        return {"records": self.records, "outputs": self.outputs, "failed": self.failed, "warnings": self.warnings,
                "source_tokens": self.source_tokens, "output_tokens": self.output_tokens, "shards": self.shards,
                "shards_resumed": self.resumed_shards,
                **{("units" if key == "units" else f"units_{key}"): value for key, value in self.units.items()}}


def shard_summary(out: ShardOutput) -> dict[str, Any]:
    """A committed shard's line in the completion log and the manifest."""
    summary = {"records": out.records, "outputs": out.outputs, "failed": len(out.failures), "warnings": out.warnings,
               "source_tokens": out.source_tokens, "output_tokens": out.output_tokens,
               "seconds": round(out.seconds, 3), "worker": out.worker, "units": out.units, "failures": out.failures}
    if out.quality is not None:
        summary["quality"] = out.quality
    return summary


class CorpusProgress:
    """Documents and tokens per second and an ETA for the whole corpus (on stderr)."""

    def __init__(self, total: int, already: int, enabled: bool, description: str) -> None:
        from toolkit.runtime import progress

        self.display = progress(description, total, enabled, completed=already)
        self.start = time.perf_counter()
        self.docs = 0
        self.tokens = 0

    def __enter__(self) -> CorpusProgress:
        self.bar = self.display.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.display.__exit__(*exc)

    def advance(self, documents: int) -> None:
        self.bar.advance(documents)

    def shard_done(self, out: ShardOutput, advanced: int) -> None:
        self.docs += out.records
        self.tokens += out.source_tokens
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.advance(out.records - advanced)
        self.bar.note(f"{self.docs / elapsed:,.1f} docs/s {self.tokens / elapsed:,.0f} tok/s")


def run_corpus(job: CorpusJob, inputs: Sequence[Path], sink: ShardSink, options: CorpusOptions,
               show_progress: bool = False, description: str = "processing") -> CorpusResult:
    """Process every shard of ``inputs`` not yet in ``sink.done``; commit each in order."""
    specs = list(plan_shards(inputs, options.shard_size))
    result = CorpusResult(records=sum(s.records for s in specs), shards=len(specs), resumed_shards=len(sink.done))
    pending = [s for s in specs if s.index not in sink.done]
    already = result.resumed_records = sum(s.records for s in specs if s.index in sink.done)
    start = time.perf_counter()
    with CorpusProgress(result.records, already, show_progress, description) as progress:
        advanced = {"n": 0}

        def commit(out: ShardOutput) -> None:
            sink.commit(out.index, out.lines, out.details, shard_summary(out), out.description)
            result.processed_source_tokens += out.source_tokens
            if result.first_output_seconds is None:
                result.first_output_seconds = time.perf_counter() - start
            progress.shard_done(out, advanced["n"])
            advanced["n"] = 0

        def on_documents(n: int) -> None:
            advanced["n"] += n
            progress.advance(n)

        if options.engine == "ray":
            from toolkit.execution.ray_engine import run_on_ray

            result.cluster = run_on_ray(job, pending, commit, options)
        else:
            _run_local(job, pending, commit, on_documents)
    result.seconds = time.perf_counter() - start
    for entry in (sink.done[i] for i in sorted(sink.done)):
        result.outputs += entry.get("outputs", 0)
        result.failed += entry.get("failed", 0)
        result.warnings += entry.get("warnings", 0)
        result.source_tokens += entry.get("source_tokens", 0)
        result.output_tokens += entry.get("output_tokens", 0)
        for key, value in entry.get("units", {}).items():
            result.units[key] = result.units.get(key, 0) + value
    from toolkit.quality.annotate import merge_summaries

    result.quality = merge_summaries([sink.done[i].get("quality") for i in sorted(sink.done)])
    return result


def _run_local(job: CorpusJob, specs: Sequence[ShardSpec], commit: Callable[[ShardOutput], None],
               on_documents: Callable[[int], None]) -> None:
    if not specs:
        return
    processor = ShardProcessor(job.build())
    for spec in specs:
        commit(processor.process(spec, on_documents))


def corpus_fingerprint(job: CorpusJob, inputs: Sequence[Path], options: CorpusOptions) -> dict[str, Any]:
    """What ``--resume`` compares: the settings that decide the outputs, the shard size, the inputs."""
    return {**job.fingerprint(), "shard_size": options.shard_size, "inputs": input_fingerprint(inputs)}


def corpus_manifest(job: CorpusJob, inputs: Sequence[Path], sink: ShardSink, options: CorpusOptions,
                    result: CorpusResult) -> dict[str, Any]:
    """The run's manifest: settings, models, totals, timing (the shard list is added on finish)."""
    description = sink.description if sink.description is not None else job.build().describe()
    processed = result.records - result.resumed_records
    timing = {"seconds": round(result.seconds, 3),
              "first_output_seconds": round(result.first_output_seconds, 3) if result.first_output_seconds else None,
              "documents_per_second": round(processed / result.seconds, 3) if result.seconds else None,
              "source_tokens_per_second": round(result.processed_source_tokens / result.seconds, 1)
              if result.seconds else None}
    return {**base_manifest(job.command), **description, "layout": "shards", "format": "jsonl",
            "engine": options.engine, "cluster": result.cluster, "shard_size": options.shard_size,
            "inputs": [str(p) for p in inputs], "totals": result.totals(), "timing": timing,
            **({"quality": result.quality} if result.quality is not None else {})}


def process_corpus(job: CorpusJob, inputs: Sequence[Path], out: Path, options: CorpusOptions | None = None, *,
                   resume: bool = False, overwrite: bool = False, show_progress: bool = False) -> CorpusResult:
    """Run ``job`` over JSONL ``inputs`` into the run folder ``out``, as `toolkit translate|summarize|
    pipeline` does with JSONL inputs: shards in input order, ``failures.jsonl``, a small manifest.
    ``resume=True`` continues an interrupted run of the same job and inputs.

        >>> job = TranslateJob("Helsinki-NLP/opus-mt-fr-en", "fr", "en", EngineOptions(backend="ct2"), GenerationOptions())
        >>> process_corpus(job, [Path("news.jsonl")], Path("runs/news"), CorpusOptions(shard_size=1000))
    """
    from toolkit.io.sharded_run import AlreadyFinished

    options = options or CorpusOptions()
    inputs = corpus_inputs([Path(p) for p in inputs])
    try:
        run = ShardedRun(out, corpus_fingerprint(job, inputs, options), overwrite=overwrite, resume=resume,
                         inputs=inputs)
    except AlreadyFinished:
        return finished_result(Path(out))
    with run:
        result = run_corpus(job, inputs, run, options, show_progress)
        result.run_dir = run.finish(corpus_manifest(job, inputs, run, options, result))
    return result


def corpus_inputs(paths: Sequence[Path]) -> list[Path]:
    """The JSONL files of ``paths`` (folders: their *.jsonl files, recursively), checked: a
    missing path, a file that is not JSONL, or no record at all is one InputError."""
    from toolkit.errors import InputError
    from toolkit.io.documents import JSONL_SUFFIXES, files_under

    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        listed = files_under(path) if path.is_dir() else [path]
        for file in listed:
            if file.suffix.lower() not in JSONL_SUFFIXES:
                raise InputError(f"{file}: a corpus is JSONL (*.jsonl); text files are translated one by one "
                                 "(Translator.translate_documents, or the CLI)")
            found.append(file)
    if not found:
        raise InputError("no JSONL input given")
    if next(plan_shards(found, 1), None) is None:
        raise InputError(f"nothing to process: {', '.join(str(p) for p in found[:3])} hold no records")
    return found


def finished_result(folder: Path) -> CorpusResult:
    """The result of a run that finished earlier, from its manifest (``resume`` of a done run)."""
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    totals = manifest.get("totals", {})
    return CorpusResult(records=totals.get("records", 0), outputs=totals.get("outputs", 0),
                        failed=totals.get("failed", 0), warnings=totals.get("warnings", 0),
                        source_tokens=totals.get("source_tokens", 0), output_tokens=totals.get("output_tokens", 0),
                        shards=totals.get("shards", 0), resumed_shards=totals.get("shards", 0),
                        run_dir=folder.resolve())
