"""What the commands share: option types, run folders, options to library objects, reports."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.table import Table
from rich.text import Text

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.output import EXIT_PARTIAL, print_json, printable, stderr
from toolkit.errors import ToolkitError
from toolkit.limits import Backend, Device, Dtype, Task, bounds


class Format(str, Enum):
    auto = "auto"
    txt = "txt"
    md = "md"
    html = "html"
    jsonl = "jsonl"


Inputs = Annotated[list[str], typer.Argument(help="Files, folders (*.txt, *.md, *.html, *.htm, *.jsonl and documents: *.docx, *.pptx, *.srt, *.vtt, *.po, *.xlf, …; recursively), or - for stdin.")]
OutOption = Annotated[str | None, typer.Option("--out", "-o", help="Run folder to create (default: outputs/<command>-<time>), or - for stdout.")]
FormatOption = Annotated[Format, typer.Option("--format", help="Output file format (auto: .md / .html for Markdown / HTML inputs, else .txt; html also reads every input as HTML).")]


class OnRisk(str, Enum):
    """``--on-risk``: what to do with a likely-wrong sentence (toolkit/tasks/fallback.py)."""

    keep = "keep"
    retry = "retry"
    pivot = "pivot"
    source = "source"


class TranslateFormat(str, Enum):
    """``translate --format``: the output formats, and the document formats (toolkit.io.formats),
    which force how every input is read (and written back)."""

    auto = "auto"
    txt = "txt"
    md = "md"
    html = "html"
    jsonl = "jsonl"
    srt = "srt"
    vtt = "vtt"
    po = "po"
    docx = "docx"
    pptx = "pptx"
    xliff = "xliff"
    pdf = "pdf"
    epub = "epub"
    odt = "odt"
    odp = "odp"


TranslateFormatOption = Annotated[TranslateFormat, typer.Option("--format", help="Output file format (auto: .md / .html for Markdown / HTML inputs, else .txt; html also reads every input as HTML); a document format (docx, pptx, odt, odp, epub, srt, vtt, po, xliff, pdf) reads every input as that format, whatever its extension, and writes it back in it.")]


def forced_document_format(docs: list[Any], fmt: TranslateFormat) -> None:
    """``translate --format docx`` (any document format): every input is read, translated and
    written back as that format (a subtitle file named .txt)."""
    for doc in docs:
        if doc.source == "<stdin>":
            raise ToolkitError(f"--format {fmt.value} reads files: give the file's path, not stdin")
        doc.format = fmt.value


def is_document_format(fmt: TranslateFormat) -> bool:
    return fmt.value not in {f.value for f in Format}
BeamsOption = Annotated[int | None, typer.Option("--beams", **bounds("num_beams"), help="Beam size (default: the model's generation config).")]
MaxNewOption = Annotated[int | None, typer.Option("--max-new-tokens", **bounds("max_new_tokens"), help="Most tokens generated per segment (default: the model's).")]
BatchOption = Annotated[int | None, typer.Option("--batch-size", **bounds("batch_size"), help="Most segments per batch (default: toolkit/data/defaults.yaml).")]
DeviceOption = Annotated[Device, typer.Option("--device", help="auto picks cuda when PyTorch sees a GPU.")]
EncodingOption = Annotated[str, typer.Option("--encoding", help="Encoding of text inputs.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite/--no-overwrite", help="Replace --out if it holds an earlier toolkit run (and nothing else).")]
JsonOption = Annotated[bool, typer.Option("--json/--no-json", help="Print a machine-readable summary on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet/--no-quiet", "-q", help="No progress bar or table.")]


class Stem(str, Enum):
    auto = "auto"
    yes = "yes"
    no = "no"


class LsumSplit(str, Enum):
    newline = "newline"
    sentences = "sentences"


BackendOption = Annotated[Backend | None, typer.Option("--backend", help="auto: CTranslate2 where it supports the model, else PyTorch (default: toolkit/data/defaults.yaml).")]
QuantizationOption = Annotated[str | None, typer.Option("--quantization", help="ct2 weights: int8 (CPU default), int8_float16 (CUDA default), int8_float32, float16, bfloat16, float32; torch: int8 (dynamic quantisation of Linear layers, CPU).")]
ThreadsOption = Annotated[int, typer.Option("--threads", **bounds("threads"), help="CPU threads for inference (0: every core).")]


DtypeOption = Annotated[Dtype | None, typer.Option("--dtype", help="torch weights: auto (bfloat16 on CPUs with native bf16, float16 on CUDA, else float32), float32, bfloat16, float16. With --quantization int8 the torch backend quantises Linear layers dynamically.")]
NoPivotOption = Annotated[bool, typer.Option("--no-pivot/--pivot", help="Refuse two-hop routes through English.")]
RegistryOption = Annotated[Path | None, typer.Option("--registry", help="Model registry (default: toolkit/data/models.yaml).")]
RevisionOption = Annotated[str | None, typer.Option("--revision", help="Hub revision (branch, tag or commit) of the model.")]


# `toolkit benchmark` finished and wrote its reports, but at least one system failed (2 is a user error).
EXIT_BENCHMARK_FAILED = 3

TIMING_NOTE = ("sentences of all documents in one language are batched together; a document's seconds are "
               "the run's time apportioned by its share of the source tokens")


def out_target(out: str | None, command: str, as_json: bool, overwrite: bool, inputs: list[str]) -> Any:
    """None for stdout, else an opened and locked RunFolder (checked before any model loads)."""
    from toolkit.io.runs import RunFolder, default_run_dir

    if out == "-":
        if as_json:
            raise ToolkitError("--out - and --json both write to stdout: use one of them")
        return None
    return RunFolder(Path(out) if out is not None else default_run_dir(command), overwrite=overwrite,
                     inputs=[Path(i) for i in inputs if i != "-"])


def summary_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("document", "sentences", "source tokens", "output tokens", "seconds", "file"):
        table.add_column(column, justify="right" if column not in ("document", "file") else "left")
    for row in rows:
        table.add_row(Text(printable(row["id"])), str(len(row["segments"])) if row["segments"] else "–",
                      str(row["source_tokens"]), str(row["output_tokens"]), f"{row['seconds']:.2f}",
                      Text(printable(row["output_file"] or "-")))
    return table


def read_documents(inputs: list[str], encoding: str) -> tuple[list[Any], list[str], list[dict[str, str]]]:
    """The documents to process, the warnings of reading them, and the blank documents (empty, or
    a file in a folder that cannot be read) as skipped entries: listed in the manifest with their
    reason, they make the exit code 3, as any skipped document does."""
    from toolkit.io.documents import drop_blank, read_inputs

    docs = read_inputs(inputs, encoding)
    kept, warnings = drop_blank(docs)
    skipped = [{"id": d.id, "source": d.source, "reason": d.meta.get("unreadable") or "empty or whitespace-only document"}
               for d in docs if d.is_blank]
    return kept, warnings, skipped


def emit(run: Any, results: list[Any], warnings: list[str], fmt: str, output_key: str, head: dict[str, Any],
          as_json: bool, quiet: bool, title: str) -> None:
    """Stream or write a single-stage run's outputs, commit its manifest, and report."""
    from toolkit.cli.output import report_warnings
    from toolkit.io.results import stream_results, write_results

    warnings = warnings + [w for r in results for w in r.warnings]
    if run is None:
        stream_results(results, fmt, output_key)
        report_warnings(warnings, None)
        if head.get("quality") is not None and not quiet:  # no manifest: this line is all the user gets
            stderr.print(quality_line(head["quality"]), markup=False, highlight=False)
        return
    entries = write_results(run, results, fmt, output_key=output_key)
    target = run.commit({**head, "format": fmt, "documents": entries, "warnings": warnings})
    report(target, {"": entries}, warnings, as_json, quiet, title, head.get("quality"))


def quality_choice(no_checks: bool, on_risk: OnRisk | None = None) -> Any:
    """The checks' thresholds (the configured defaults) with ``--on-risk``, or None with ``--no-checks``."""
    from toolkit.config import load_defaults

    if no_checks:
        if on_risk not in (None, OnRisk.keep):
            raise ToolkitError(f"--on-risk {on_risk.value} acts on what the checks find: drop --no-checks")
        return None
    quality = load_defaults().quality
    return quality.replace(on_risk=on_risk.value) if on_risk is not None else quality


def quality_line(quality: dict[str, Any], target: Path | str | None = None) -> str:
    """One line of a run's quality summary: risks, the flags raised, what ``--on-risk`` replaced,
    and the review command for the run folder (none for a run written to stdout)."""
    risks = quality["risk"]
    flags = ", ".join(f"{name} {count}" for name, count in quality["flags"].items() if count)
    acted = quality.get("on_risk")
    replaced = (f"; --on-risk {acted['mode']} replaced {acted['replaced']} of {acted['sentences']} likely-wrong "
                "sentence(s)" if acted else "")
    review = f"; see toolkit review {target}" if target is not None and (risks["review"] or risks["likely-wrong"]) else ""
    return (f"Checked {quality['sentences']} sentence(s): {risks['ok']} ok, {risks['review']} to review, "
            f"{risks['likely-wrong']} likely wrong" + (f" (flags: {flags})" if flags else "") + replaced + review)


def report(target: Path, stages: dict[str, list[dict[str, Any]]], warnings: list[str], as_json: bool, quiet: bool,
            title: str, quality: dict[str, Any] | None = None) -> None:
    from toolkit.cli.output import report_warnings

    report_warnings(warnings, str(target / "manifest.json"))
    keys = ("id", "output_file", "seconds", "source_tokens", "output_tokens", "warnings")
    if as_json:
        summary: dict[str, Any] = {"run_dir": str(target), "manifest": str(target / "manifest.json"), "warnings": warnings}
        rows = {stage: [{k: e[k] for k in keys} for e in entries] for stage, entries in stages.items()}
        if list(rows) == [""]:
            summary["documents"] = rows[""]
        else:
            summary["stages"] = rows
        if quality is not None:
            summary["quality"] = quality
        print_json(summary)
    elif not quiet:
        for stage, entries in stages.items():
            stderr.print(summary_table(f"{title} {stage}".strip(), entries))
        if quality is not None:
            stderr.print(quality_line(quality, target), markup=False, highlight=False)
        stderr.print(f"Wrote {target}/ (manifest.json has the alignment and settings)")


def engine_options(task: Task, device: Device, backend: Backend | None, quantization: str | None, threads: int,
                    batch_size: int | None = None, revision: str | None = None,
                    dtype: Dtype | None = None) -> Any:
    """EngineOptions from the command line, the configured defaults filling what was not given."""
    from toolkit.config import resolve_engine

    return resolve_engine(task, engine_choices(device, backend, quantization, threads, batch_size, revision, dtype))


def engine_choices(device: Device, backend: Backend | None, quantization: str | None, threads: int,
                   batch_size: int | None = None, revision: str | None = None, dtype: Dtype | None = None) -> Any:
    """EngineOptions with the fields the command line gave (None: not given, defaults decide)."""
    from toolkit.options import EngineOptions, build

    flags = {"device": device, "backend": backend, "quantization": quantization, "threads": threads,
             "batch_size": batch_size, "revision": revision, "dtype": dtype}
    return build(EngineOptions, {k: v for k, v in flags.items() if v is not None})


def generation_choices(beams: int | None = None, **lengths: Any) -> Any:
    """GenerationOptions from the command line (None keeps the model's own value)."""
    from toolkit.options import GenerationOptions, build

    return build(GenerationOptions, {"num_beams": beams, **lengths})


def routable(docs: list[Any], translator: Any) -> tuple[list[Any], list[dict[str, str]]]:
    """The documents the translator can take, and a report of those it cannot (``--src auto``)."""
    skipped = [{"id": d.id, "source": d.source, "reason": translator.skipped[d.id]}
               for d in docs if d.id in translator.skipped]
    return [d for d in docs if d.id not in translator.skipped], skipped


def partial_exit(skipped: list[dict[str, str]]) -> None:
    """Exit 3 when some documents were skipped: the run finished, but not for every input."""
    if skipped:
        stderr.print(f"{len(skipped)} document(s) skipped (listed under 'skipped' in the manifest); exit code "
                     f"{EXIT_PARTIAL}")
        raise typer.Exit(EXIT_PARTIAL)


GlossaryOption = Annotated[Path | None, typer.Option("--glossary", metavar="TERMS.tsv", help="TSV of 'source term<TAB>target term' lines: each term gets its target.")]
KeepOption = Annotated[list[str] | None, typer.Option("--keep", metavar="TERM", help="A term kept as it is, never translated (repeatable).")]
SummarizerOption = Annotated[str | None, typer.Option("--model", "-m", help="Hugging Face id, local folder, lead-N or textrank[-N] (default: toolkit/data/defaults.yaml for --lang).")]
MinLengthOption = Annotated[int | None, typer.Option("--min-length", **bounds("min_length"), help="Shortest summary in tokens (default: the model's).")]
MaxLengthOption = Annotated[int | None, typer.Option("--max-length", **bounds("max_length"), help="Longest summary in tokens (default: the model's).")]
LengthPenaltyOption = Annotated[float | None, typer.Option("--length-penalty", help="Beam length penalty (default: the model's).")]
NoRepeatOption = Annotated[int | None, typer.Option("--no-repeat-ngram", **bounds("no_repeat_ngram_size"), help="Forbid repeating n-grams of this size (default: the model's).")]


def summary_generation(beams: int | None, min_length: int | None, max_length: int | None,
                        length_penalty: float | None, no_repeat_ngram: int | None) -> Any:
    from toolkit.options import GenerationOptions, build

    if min_length is not None and max_length is not None and min_length > max_length:
        raise ToolkitError(f"--min-length {min_length} is larger than --max-length {max_length}")
    return build(GenerationOptions, {"num_beams": beams, "min_length": min_length, "max_length": max_length,
                                     "length_penalty": length_penalty, "no_repeat_ngram_size": no_repeat_ngram})




# Trust signals (#26): the checks on every translated sentence, and what to do with the worst.
OnRiskOption = Annotated[OnRisk | None, typer.Option("--on-risk", help="Likely-wrong sentences: keep them flagged (default), retry them (more beams, no repeated 3-gram), route them through the registry's pivot, or keep their source, marked.")]
NoChecksOption = Annotated[bool, typer.Option("--no-checks/--checks", help="Do not assess the translations (default: every sentence gets its flags and risk in the manifest, see toolkit review).")]

# Work never done twice (#29): translate's deduplication and translation memory.
NoDedupeOption = Annotated[bool, typer.Option("--no-dedupe/--dedupe", help="Decode every copy of a repeated sentence (default: each distinct sentence once; the output is the same).")]
MemoryOption = Annotated[Path | None, typer.Option("--tm", metavar="PATH", help="Translation memory (SQLite file, created if absent): sentences translated before with the same model and settings are not decoded again.")]
MemoryMaxOption = Annotated[int | None, typer.Option("--tm-max-entries", min=1, help="Bound of the --tm file (least recently used entries go first; kept in the file).")]


def memory_choices(engine: Any, no_dedupe: bool, tm: Path | None, max_entries: int | None) -> Any:
    """``engine`` with the deduplication and translation-memory options of the command line."""
    if max_entries is not None and tm is None:
        raise ToolkitError("--tm-max-entries needs --tm PATH")
    if tm is not None:
        from toolkit.io.memory import MemoryFile

        MemoryFile(tm, max_entries).close()  # a foreign or corrupt file is refused before any model loads
    return engine.replace(dedupe=False if no_dedupe else None, memory=str(tm.resolve()) if tm else None,
                          memory_max_entries=max_entries)
