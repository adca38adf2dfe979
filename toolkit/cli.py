"""The `toolkit` command line: parses options, calls the library, renders the result."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.core
# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from rich.table import Table
from rich.text import Text

from toolkit.console import (EXIT_PARTIAL, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USER_ERROR, Terminated,
                             handle_termination, print_json, printable, quiet_libraries, raise_if_terminated, stderr,
                             user_errors)
from toolkit.errors import ToolkitError


def _defer_rich_markdown() -> None:
    """Typer's help renderer imports rich.markdown (markdown-it, ~0.12 s) only to render help in
    markdown mode, which this CLI does not use; stand in for it until something needs it."""
    import types

    if "rich.markdown" in sys.modules:
        return
    stub = types.ModuleType("rich.markdown")

    def real() -> Any:
        import importlib

        if sys.modules.get("rich.markdown") is stub:
            del sys.modules["rich.markdown"]
        return importlib.import_module("rich.markdown")

    class Markdown:  # only called in markdown mode
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real().Markdown(*args, **kwargs)

    stub.Markdown = Markdown  # type: ignore[attr-defined]
    def attribute(name: str) -> Any:
        if name.startswith("__"):  # the import system probes __path__ and the like
            raise AttributeError(name)
        return getattr(real(), name)

    stub.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules["rich.markdown"] = stub


_defer_rich_markdown()


def _one_line(error: ClickException) -> str:
    import re

    param = getattr(error, "param", None)
    message = str(getattr(error, "message", ""))
    bound = re.search(r"(greater|less) than or equal to (\S+)", message)
    if param is not None and bound and getattr(param, "opts", None):
        return f"{param.opts[0]} must be at {'least' if bound.group(1) == 'greater' else 'most'} {bound.group(2)}"
    message = " ".join(error.format_message().split())
    return message[:1].lower() + message[1:]


class _Commands(typer.core.TyperGroup):
    """Every usage error is one line (``toolkit: error: ...``) and exit 2, like the library's
    errors; SIGTERM exits 143 after the same clean-up as Ctrl-C."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        handle_termination()
        try:
            value = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = value if isinstance(value, int) else 0
            raise_if_terminated()
            if code == EXIT_SIGINT:  # Typer turns a KeyboardInterrupt outside our handlers into 130, silently
                print("toolkit: interrupted; nothing was written", file=sys.stderr)
        except Terminated:
            print("toolkit: terminated; nothing was written", file=sys.stderr)
            code = EXIT_SIGTERM
        except KeyboardInterrupt:
            print("toolkit: interrupted; nothing was written", file=sys.stderr)
            code = EXIT_SIGINT
        except NoArgsIsHelpError as error:
            print(error.ctx.get_help() if error.ctx else "", file=sys.stderr)
            code = EXIT_USER_ERROR
        except ClickException as error:
            print(f"toolkit: error: {_one_line(error)}", file=sys.stderr)
            code = error.exit_code
        except typer.Abort:
            print("toolkit: interrupted; nothing was written", file=sys.stderr)
            code = EXIT_SIGINT
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Commands,
    help="Translate and summarise multilingual news, evaluate the results, benchmark the models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Format(str, Enum):
    auto = "auto"
    txt = "txt"
    md = "md"
    html = "html"
    jsonl = "jsonl"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


Inputs = Annotated[list[str], typer.Argument(help="Files, folders (*.txt, *.md, *.jsonl, recursively), or - for stdin.")]
OutOption = Annotated[Optional[str], typer.Option("--out", "-o", help="Run folder to create (default: outputs/<command>-<time>), or - for stdout.")]
FormatOption = Annotated[Format, typer.Option("--format", help="Output file format (auto: .md / .html for Markdown / HTML inputs, else .txt; html also reads every input as HTML).")]
BeamsOption = Annotated[Optional[int], typer.Option("--beams", min=1, max=256, help="Beam size (default: the model's generation config).")]
MaxNewOption = Annotated[Optional[int], typer.Option("--max-new-tokens", min=1, max=65536, help="Most tokens generated per segment (default: the model's).")]
BatchOption = Annotated[Optional[int], typer.Option("--batch-size", min=1, max=65536, help="Most segments per batch (default: toolkit/data/defaults.yaml).")]
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


class Backend(str, Enum):
    auto = "auto"
    torch = "torch"
    ct2 = "ct2"


BackendOption = Annotated[Optional[Backend], typer.Option("--backend", help="auto: CTranslate2 where it supports the model, else PyTorch (default: toolkit/data/defaults.yaml).")]
QuantizationOption = Annotated[Optional[str], typer.Option("--quantization", help="ct2 weights: int8 (CPU default), int8_float16 (CUDA default), int8_float32, float16, bfloat16, float32; torch: int8 (dynamic quantisation of Linear layers, CPU).")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=0, max=1024, help="CPU threads for inference (0: every core).")]


class Dtype(str, Enum):
    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


DtypeOption = Annotated[Optional[Dtype], typer.Option("--dtype", help="torch weights: auto (bfloat16 on CPUs with native bf16, float16 on CUDA, else float32), float32, bfloat16, float16. With --quantization int8 the torch backend quantises Linear layers dynamically.")]
NoPivotOption = Annotated[bool, typer.Option("--no-pivot/--pivot", help="Refuse two-hop routes through English.")]
RegistryOption = Annotated[Optional[Path], typer.Option("--registry", help="Model registry (default: toolkit/data/models.yaml).")]
RevisionOption = Annotated[Optional[str], typer.Option("--revision", help="Hub revision (branch, tag or commit) of the model.")]


# `toolkit benchmark` finished and wrote its reports, but at least one system failed (2 is a user error).
EXIT_BENCHMARK_FAILED = 3

TIMING_NOTE = ("sentences of all documents in one language are batched together; a document's seconds are "
               "the run's time apportioned by its share of the source tokens")


def _version(value: bool) -> None:
    if value:
        import toolkit

        typer.echo(f"toolkit {toolkit.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    debug: Annotated[bool, typer.Option("--debug/--no-debug", help="Log at DEBUG level and show tracebacks (also: TOOLKIT_LOG=debug).")] = False,
) -> None:
    """Translate and summarise multilingual news, evaluate the results, benchmark the models."""
    from toolkit.console import set_debug

    set_debug(debug)


def _out_target(out: Optional[str], command: str, as_json: bool, overwrite: bool, inputs: list[str]) -> Any:
    """None for stdout, else an opened and locked RunFolder (checked before any model loads)."""
    from toolkit.io.runs import RunFolder, default_run_dir

    if out == "-":
        if as_json:
            raise ToolkitError("--out - and --json both write to stdout: use one of them")
        return None
    return RunFolder(Path(out) if out is not None else default_run_dir(command), overwrite=overwrite,
                     inputs=[Path(i) for i in inputs if i != "-"])


def _summary_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("document", "sentences", "source tokens", "output tokens", "seconds", "file"):
        table.add_column(column, justify="right" if column not in ("document", "file") else "left")
    for row in rows:
        table.add_row(Text(printable(row["id"])), str(len(row["segments"])) if row["segments"] else "–",
                      str(row["source_tokens"]), str(row["output_tokens"]), f"{row['seconds']:.2f}",
                      Text(printable(row["output_file"] or "-")))
    return table


def _read_documents(inputs: list[str], encoding: str) -> tuple[list[Any], list[str]]:
    from toolkit.io.documents import read_inputs
    from toolkit.io.documents import drop_blank

    return drop_blank(read_inputs(inputs, encoding))


def _emit(run: Any, results: list[Any], warnings: list[str], fmt: str, output_key: str, head: dict[str, Any],
          as_json: bool, quiet: bool, title: str) -> None:
    """Stream or write a single-stage run's outputs, commit its manifest, and report."""
    from toolkit.console import report_warnings
    from toolkit.io.results import stream_results, write_results

    warnings = warnings + [w for r in results for w in r.warnings]
    if run is None:
        stream_results(results, fmt, output_key)
        report_warnings(warnings, None)
        return
    entries = write_results(run, results, fmt, output_key=output_key)
    target = run.commit({**head, "format": fmt, "documents": entries, "warnings": warnings})
    _report(target, {"": entries}, warnings, as_json, quiet, title)


def _report(target: Path, stages: dict[str, list[dict[str, Any]]], warnings: list[str], as_json: bool, quiet: bool,
            title: str) -> None:
    from toolkit.console import report_warnings

    report_warnings(warnings, str(target / "manifest.json"))
    keys = ("id", "output_file", "seconds", "source_tokens", "output_tokens", "warnings")
    if as_json:
        summary: dict[str, Any] = {"run_dir": str(target), "manifest": str(target / "manifest.json"), "warnings": warnings}
        rows = {stage: [{k: e[k] for k in keys} for e in entries] for stage, entries in stages.items()}
        if list(rows) == [""]:
            summary["documents"] = rows[""]
        else:
            summary["stages"] = rows
        print_json(summary)
    elif not quiet:
        for stage, entries in stages.items():
            stderr.print(_summary_table(f"{title} {stage}".strip(), entries))
        stderr.print(f"Wrote {target}/ (manifest.json has the alignment and settings)")


@app.command()
def translate(
    inputs: Inputs,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Hugging Face id or local folder (default: toolkit/data/defaults.yaml for the pair).")] = None,
    src: Annotated[Optional[str], typer.Option("--src", help="Source language, or auto to detect it per document (default: toolkit/data/defaults.yaml).")] = None,
    tgt: Annotated[Optional[str], typer.Option("--tgt", help="Target language (default: toolkit/data/defaults.yaml).")] = None,
    no_pivot: NoPivotOption = False,
    registry: RegistryOption = None,
    out: OutOption = None,
    fmt: FormatOption = Format.auto,
    beams: BeamsOption = None,
    max_new_tokens: MaxNewOption = None,
    batch_size: BatchOption = None,
    device: DeviceOption = Device.auto,
    backend: BackendOption = None,
    quantization: QuantizationOption = None,
    dtype: DtypeOption = None,
    threads: ThreadsOption = 0,
    revision: RevisionOption = None,
    encoding: EncodingOption = "utf-8",
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
) -> None:
    """Translate documents sentence by sentence, keeping their paragraphs and layout."""
    quiet_libraries()
    with user_errors():
        from toolkit.options import GenerationOptions, build
        from toolkit.tasks.runner import run_batched
        from toolkit.io.runs import base_manifest
        from toolkit.tasks.translate import document_translator
        from toolkit.text.glossary import load_glossary

        engine = _engine_options("translation", device, backend, quantization, threads, batch_size, revision, dtype=dtype)
        generation = build(GenerationOptions, {"num_beams": beams, "max_new_tokens": max_new_tokens})
        docs, warnings = _read_documents(inputs, encoding)
        for doc in docs if fmt == Format.html else []:  # --format html: every input is HTML (e.g. stdin)
            doc.format = "html"
        terms = load_glossary(glossary, keep or [])
        run = _out_target(out, "translate", as_json, overwrite, inputs)
        with run if run is not None else nullcontext():
            translator = document_translator(docs, model, src, tgt, allow_pivot=not no_pivot, registry_path=registry,
                                             engine=engine, generation=generation)
            translator.glossary = terms
            docs, skipped = _routable(docs, translator)
            results = run_batched(docs, translator.translate_batch, translator.count_sentences,
                                  "translating", show_progress=not quiet)
            head = {**base_manifest("translate"), "task": "translation", **translator.describe(),
                    "timing": TIMING_NOTE, "skipped": skipped}
            _emit(run, results, warnings + [f"{s['id']}: skipped: {s['reason']}" for s in skipped], fmt.value,
                  "translation", head, as_json, quiet, f"Translated {len(results)} document(s) to {translator.target_lang}")
        _partial_exit(skipped)


def _engine_options(task: str, device: Device, backend: Optional[Backend], quantization: Optional[str], threads: int,
                    batch_size: Optional[int] = None, revision: Optional[str] = None,
                    dtype: Optional[Dtype] = None) -> Any:
    """EngineOptions from the command line, the configured defaults filling what was not given."""
    from toolkit.config import load_defaults
    from toolkit.options import EngineOptions, build

    defaults = load_defaults()
    section = defaults.translation if task == "translation" else defaults.summarization
    return build(EngineOptions, {"device": device.value, "backend": backend.value if backend else section.backend,
                                 "quantization": quantization, "threads": threads,
                                 "batch_size": batch_size or section.batch_size,
                                 "max_batch_tokens": section.max_batch_tokens, "revision": revision,
                                 "dtype": dtype.value if dtype else "auto"})


def _routable(docs: list[Any], translator: Any) -> tuple[list[Any], list[dict[str, str]]]:
    """The documents the translator can take, and a report of those it cannot (``--src auto``)."""
    skipped = [{"id": d.id, "source": d.source, "reason": translator.skipped[d.id]}
               for d in docs if d.id in translator.skipped]
    return [d for d in docs if d.id not in translator.skipped], skipped


def _partial_exit(skipped: list[dict[str, str]]) -> None:
    """Exit 3 when some documents were skipped: the run finished, but not for every input."""
    if skipped:
        stderr.print(f"{len(skipped)} document(s) skipped (listed under 'skipped' in the manifest); exit code "
                     f"{EXIT_PARTIAL}")
        raise typer.Exit(EXIT_PARTIAL)


GlossaryOption = Annotated[Optional[Path], typer.Option("--glossary", metavar="TERMS.tsv", help="TSV of 'source term<TAB>target term' lines: each term gets its target.")]
KeepOption = Annotated[Optional[list[str]], typer.Option("--keep", metavar="TERM", help="A term kept as it is, never translated (repeatable).")]
SummarizerOption = Annotated[Optional[str], typer.Option("--model", "-m", help="Hugging Face id, local folder, lead-N or textrank[-N] (default: toolkit/data/defaults.yaml for --lang).")]
MinLengthOption = Annotated[Optional[int], typer.Option("--min-length", min=0, max=65536, help="Shortest summary in tokens (default: the model's).")]
MaxLengthOption = Annotated[Optional[int], typer.Option("--max-length", min=1, max=65536, help="Longest summary in tokens (default: the model's).")]
LengthPenaltyOption = Annotated[Optional[float], typer.Option("--length-penalty", help="Beam length penalty (default: the model's).")]
NoRepeatOption = Annotated[Optional[int], typer.Option("--no-repeat-ngram", min=1, max=64, help="Forbid repeating n-grams of this size (default: the model's).")]


def _summary_generation(beams: Optional[int], min_length: Optional[int], max_length: Optional[int],
                        length_penalty: Optional[float], no_repeat_ngram: Optional[int]) -> Any:
    from toolkit.options import GenerationOptions, build

    if min_length is not None and max_length is not None and min_length > max_length:
        raise ToolkitError(f"--min-length {min_length} is larger than --max-length {max_length}")
    return build(GenerationOptions, {"num_beams": beams, "min_length": min_length, "max_length": max_length,
                                     "length_penalty": length_penalty, "no_repeat_ngram_size": no_repeat_ngram})


@app.command()
def summarize(
    inputs: Inputs,
    model: SummarizerOption = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help="Language of the documents (default: toolkit/data/defaults.yaml).")] = None,
    summary_lang: Annotated[Optional[str], typer.Option("--summary-lang", help="Language of the summaries, if not --lang: summarise, then translate the summary.")] = None,
    min_length: MinLengthOption = None,
    max_length: MaxLengthOption = None,
    beams: BeamsOption = None,
    length_penalty: LengthPenaltyOption = None,
    no_repeat_ngram: NoRepeatOption = None,
    out: OutOption = None,
    fmt: FormatOption = Format.auto,
    batch_size: BatchOption = None,
    device: DeviceOption = Device.auto,
    backend: BackendOption = None,
    quantization: QuantizationOption = None,
    dtype: DtypeOption = None,
    threads: ThreadsOption = 0,
    revision: RevisionOption = None,
    encoding: EncodingOption = "utf-8",
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Summarise documents of any length (map-reduce beyond the model's window), or extract lead-N / TextRank."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.text.languages import check_language
        from toolkit.tasks.pipeline import translate_summaries
        from toolkit.tasks.runner import run_batched
        from toolkit.io.runs import base_manifest
        from toolkit.tasks.summarize import load_summarizer

        generation = _summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        engine = _engine_options("summarization", device, backend, quantization, threads, batch_size, revision, dtype=dtype)
        lang = check_language(lang or load_defaults().summarization.lang)
        wanted = check_language(summary_lang, "--summary-lang") if summary_lang else lang
        docs, warnings = _read_documents(inputs, encoding)
        run = _out_target(out, "summarize", as_json, overwrite, inputs)
        with run if run is not None else nullcontext():
            summarizer = load_summarizer(model, lang, engine, generation)
            results = run_batched(docs, summarizer.summarize_documents, summarizer.count_units, "summarising",
                                  show_progress=not quiet)
            head = {**base_manifest("summarize"), "task": "summarization", **summarizer.describe()}
            if wanted != lang:
                translation_engine = _engine_options("translation", device, backend, quantization, threads, dtype=dtype)
                described = translate_summaries(docs, results, lang, wanted, translation_engine, not quiet)
                head = {**head, "summary_lang": wanted, "summary_translation": described}
            _emit(run, results, warnings, fmt.value, "summary", head, as_json, quiet,
                  f"Summarised {len(results)} document(s) with {summarizer.describe()['model']['reference']}")


@app.command()
def pipeline(
    inputs: Inputs,
    translator_model: Annotated[Optional[str], typer.Option("--translator", help="Translation model (default: toolkit/data/defaults.yaml for the pair).")] = None,
    summarizer_model: Annotated[Optional[str], typer.Option("--summarizer", help="Summariser: model, lead-N or textrank[-N] (default: toolkit/data/defaults.yaml for the summary's input language).")] = None,
    order: Annotated[Optional[str], typer.Option("--order", help="translate-first (default) or summarize-first.")] = None,
    src: Annotated[Optional[str], typer.Option("--src", help="Source language, or auto (default: toolkit/data/defaults.yaml).")] = None,
    tgt: Annotated[Optional[str], typer.Option("--tgt", help="Target language.")] = None,
    summary_lang: Annotated[Optional[str], typer.Option("--summary-lang", help="Language of the summary (default: the target language).")] = None,
    no_pivot: NoPivotOption = False,
    registry: RegistryOption = None,
    min_length: MinLengthOption = None,
    max_length: MaxLengthOption = None,
    length_penalty: LengthPenaltyOption = None,
    no_repeat_ngram: NoRepeatOption = None,
    beams: Annotated[Optional[int], typer.Option("--beams", min=1, max=256, help="Beam size for both stages (default: each model's).")] = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    out: OutOption = None,
    device: DeviceOption = Device.auto,
    backend: BackendOption = None,
    quantization: QuantizationOption = None,
    dtype: DtypeOption = None,
    threads: ThreadsOption = 0,
    encoding: EncodingOption = "utf-8",
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Translate then summarise (or summarise then translate): both outputs per document, one manifest."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.text.languages import check_language
        from toolkit.options import GenerationOptions, build
        from toolkit.tasks.pipeline import ORDERS, run_pipeline
        from toolkit.io.results import write_results
        from toolkit.io.runs import base_manifest
        from toolkit.tasks.summarize import load_summarizer
        from toolkit.tasks.translate import document_translator
        from toolkit.text.glossary import load_glossary

        defaults = load_defaults()
        order = order or defaults.pipeline.order
        if order not in ORDERS:
            raise ToolkitError(f"--order {order}: expected translate-first or summarize-first")
        generation = _summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        if out == "-":
            raise ToolkitError("pipeline writes two outputs per document: --out must be a folder")
        engine = _engine_options("translation", device, backend, quantization, threads, dtype=dtype)
        summary_engine = _engine_options("summarization", device, backend, quantization, threads, dtype=dtype)
        terms = load_glossary(glossary, keep or [])
        docs, warnings = _read_documents(inputs, encoding)
        run = _out_target(out, "pipeline", as_json, overwrite, inputs)
        with run:
            translator = document_translator(docs, translator_model, src, tgt, allow_pivot=not no_pivot,
                                             registry_path=registry, engine=engine,
                                             generation=build(GenerationOptions, {"num_beams": beams}))
            translator.glossary = terms
            docs, skipped = _routable(docs, translator)
            warnings += [f"{s['id']}: skipped: {s['reason']}" for s in skipped]
            src, tgt = translator.source_lang, translator.target_lang
            wanted = check_language(summary_lang, "--summary-lang") if summary_lang else tgt
            summary_translator = None
            if wanted not in (src, tgt):
                via = tgt if order == "translate-first" else src
                summary_translator = document_translator(docs, None, via, wanted, allow_pivot=not no_pivot,
                                                         registry_path=registry, engine=engine)
            summary_input_lang = src if order == "summarize-first" or wanted == src else tgt
            summarizer = load_summarizer(summarizer_model, summary_input_lang, summary_engine, generation)
            result = run_pipeline(docs, translator, summarizer, order, not quiet, wanted, summary_translator)
            stages, tables = [], {}
            for stage in result.stages:
                entries = write_results(run, stage.results, "auto", subdir=stage.folder)
                stage_warnings = [w for r in stage.results for w in r.warnings]
                warnings += stage_warnings
                stages.append({"stage": stage.name, "folder": stage.folder, **stage.description,
                               "documents": entries, "warnings": stage_warnings})
                tables[stage.folder] = entries
            manifest = {**base_manifest("pipeline"), "task": "pipeline", "order": order, "timing": TIMING_NOTE,
                        "source_lang": src,
                        "target_lang": tgt, "summary_lang": result.summary_lang, "stages": stages,
                        "outputs": result.outputs, "skipped": skipped, "warnings": warnings}
            target = run.commit(manifest)
        _report(target, tables, warnings, as_json, quiet, "Pipeline:")
        _partial_exit(skipped)


@app.command()
def detect(
    inputs: Inputs,
    encoding: EncodingOption = "utf-8",
    as_json: JsonOption = False,
) -> None:
    """Identify the language of each document (and of each paragraph), offline."""
    with user_errors():
        from toolkit.text.detect import detect as detect_text
        from toolkit.console import report_warnings

        docs, warnings = _read_documents(inputs, encoding)  # nothing but blank inputs is an error
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


@app.command()
def evaluate(
    hyp: Annotated[str, typer.Option("--hyp", help="Run folder of translate/summarize/pipeline, JSONL, or text (one segment per line).")],
    ref: Annotated[list[str], typer.Option("--ref", help="References: JSONL (reference / references) or text; repeat for several references.")],
    task: Annotated[Optional[str], typer.Option("--task", help="translation or summarization (default: from the run's manifest).")] = None,
    metrics: Annotated[Optional[str], typer.Option("--metrics", help="Comma-separated: bleu,chrf,ter,rouge (or rouge1,rouge2,rougeL,rougeLsum), bertscore, comet.")] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help="Language of the texts scored (default: from the manifest, else en).")] = None,
    stem: Annotated[Stem, typer.Option("--stem", help="ROUGE stemming: auto (Porter for English, as rouge-score's use_stemmer=True; none otherwise), yes (Porter/Snowball), no.")] = Stem.auto,
    lsum_split: Annotated[LsumSplit, typer.Option("--lsum-split", help="ROUGE-Lsum sentences: newline (the text's lines, as rouge-score) or sentences (split each line with toolkit's segmenter).")] = LsumSplit.newline,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples (and randomization trials).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed for resampling.")] = 12345,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="A second system to compare with (paired tests).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="New folder for scores.json, scores.csv, scores.md.")] = None,
    overwrite: OverwriteOption = False,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes extracting metric statistics of large inputs (0: one per CPU, at most 8).")] = 0,
    bertscore_model: Annotated[Optional[str], typer.Option("--bertscore-model", help="BERTScore model: hub id or local folder (default: roberta-large for English, bert-base-multilingual-cased otherwise).")] = None,
    bertscore_layers: Annotated[Optional[int], typer.Option("--bertscore-layers", help="BERTScore layer (default: bert-score's for the model, else its last).")] = None,
    comet_model: Annotated[Optional[str], typer.Option("--comet-model", help="COMET model: hub id or local folder (default: Unbabel/wmt22-comet-da).")] = None,
    device: DeviceOption = Device.auto,
    as_json: JsonOption = False,
) -> None:
    """Score translations (BLEU, chrF++, TER) or summaries (ROUGE) with confidence intervals;
    BERTScore with the optional "neural" extra (COMET: see the README)."""
    with user_errors():
        from toolkit.evaluation import evaluate_paths
        from toolkit.evaluation.report import signatures, table, write_reports
        from toolkit.io.runs import RunFolder, base_manifest

        inputs = [Path(p) for p in [hyp, *ref, baseline] if p]
        run = RunFolder(out, overwrite=overwrite, inputs=inputs) if out is not None else None
        with run if run is not None else nullcontext():
            from toolkit.evaluation.neural import NeuralOptions

            names = [m for m in metrics.split(",") if m.strip()] if metrics else None
            neural = NeuralOptions(comet_model, bertscore_model, bertscore_layers, device.value)
            result = evaluate_paths(hyp, ref, task, names, lang, stem.value, bootstrap, seed, baseline, jobs,
                                    lsum_split.value, neural)
            if run is not None:
                write_reports(result, run)
                run.commit({**base_manifest("evaluate"), "task": "evaluation"})
        if as_json:
            print_json(result)
        else:
            stderr.print(table(result))
            stderr.print(signatures(result), soft_wrap=True)
            if out is not None:
                stderr.print(f"Wrote {out}/scores.json, scores.csv, scores.md")


@app.command()
def benchmark(
    config: Annotated[str, typer.Argument(help="A benchmark config (configs/benchmarks/*.yaml), or 'compare'.")],
    runs: Annotated[Optional[list[str]], typer.Argument(help="With 'compare': the two run folders RUN_A RUN_B.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder (default: outputs/benchmarks/<name>-<time>).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Use only the first N documents of each dataset.")] = None,
    systems: Annotated[Optional[str], typer.Option("--systems", help="Comma-separated system names to run (default: all).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Generate again even where cached outputs exist.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the config, resolve the models, print the plan; generate nothing.")] = False,
    allow_failures: Annotated[bool, typer.Option("--allow-failures", help=f"Exit 0 even if a system fails (default: exit {EXIT_BENCHMARK_FAILED}, after writing the reports).")] = False,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Compare systems on quality (with CIs and significance), speed and memory: `toolkit benchmark CONFIG`,
    or `toolkit benchmark compare RUN_A RUN_B`."""
    quiet_libraries()
    with user_errors():
        from toolkit.benchmark import report

        if config == "compare":
            if not runs or len(runs) != 2:
                raise ToolkitError("usage: toolkit benchmark compare RUN_A RUN_B")
            a, b = (report.load_results(Path(r)) for r in runs)
            table, notes = report.compare(a, b)
            if as_json:
                print_json({"a": a["run_id"], "b": b["run_id"], "notes": notes,
                            "rows": [[c._cells[i] for c in table.columns] for i in range(table.row_count)]})
                return
            stderr.print(table)
            for note in notes:
                stderr.print(note)
            return
        if runs:
            raise ToolkitError(f"unexpected arguments after the config: {' '.join(runs)}")
        from toolkit.benchmark.config import load_benchmark
        from toolkit.benchmark.runner import plan, run_benchmark, run_id, select_systems

        config_path = Path(config)
        bench = load_benchmark(config_path)
        chosen = select_systems(bench, [n.strip() for n in systems.split(",") if n.strip()] if systems else None)
        root = Path("outputs") / "benchmarks"
        if dry_run:
            resolved = plan(chosen, root / "models")
            rows = [{"system": r.system.name, "task": r.system.task, "models": r.status, "error": r.error} for r in resolved]
            if as_json:
                print_json({"config": str(config_path), "datasets": list(bench.datasets), "systems": rows})
                return
            table = Table(title=f"{bench.name}: plan ({len(chosen)} systems × {len(bench.datasets)} datasets)", title_justify="left")
            for column in ("system", "task", "models", "ready"):
                table.add_column(column)
            for r in resolved:
                table.add_row(r.system.name, r.system.task,
                              ", ".join(f"{role}: {r.references.get(role, ref)} ({status})"
                                        for (role, ref), status in zip(_roles_of(r.system), r.status.values())),
                              "yes" if r.error is None else f"no: {r.error}")
            stderr.print(table)
            return
        target = out or root / run_id(bench)
        results = run_benchmark(bench, config_path, target, chosen, limit, not no_cache, root / "cache", root / "models",
                                show_progress=not quiet and not as_json, overwrite=overwrite)
        if as_json:
            print_json({"run_dir": str(target), "status": results["status"], "leaderboard": report.leaderboard_rows(results),
                        "failed": results["failed"]})
        elif not quiet:
            for table in report.tables(results):
                stderr.print(table)
            stderr.print(f"Wrote {target}/ (results.json, results.csv, leaderboard.md, quality-vs-speed.png)")
        if results["failed"] and not allow_failures:
            names = ", ".join(f"{f['system']} on {f['dataset']}" for f in results["failed"])
            print(f"toolkit: benchmark: {len(results['failed'])} system run(s) failed ({names}); the reports mark them; "
                  f"--allow-failures exits 0", file=sys.stderr)
            raise typer.Exit(EXIT_BENCHMARK_FAILED)


def _roles_of(system: Any) -> list[tuple[str, str]]:
    from toolkit.benchmark.runner import model_roles

    return list(model_roles(system).items())


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
        for hop in hops:
            codes = hop["source_prefix"].strip() or (f"{hop['src_code']} → {hop['tgt_code']}" if hop["src_code"] else "–")
            table.add_row(f"{hop['src']}→{hop['tgt']}", hop["model"], hop["kind"], codes, "yes" if hop["cached"] else "no")
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


def _add_serve() -> None:
    """`toolkit serve` (issue #17): its options live in toolkit/serve/command.py; nothing of the
    server's extra is imported until it runs."""
    from toolkit.serve.command import serve

    app.command(name="serve")(serve)


_add_serve()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
