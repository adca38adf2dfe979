"""`toolkit translate`, `summarize` and `pipeline`: the commands that generate text."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
import typer.core

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.app import app
from toolkit.cli.common import (
    TIMING_NOTE,
    BackendOption,
    BatchOption,
    BeamsOption,
    Device,
    DeviceOption,
    DtypeOption,
    EncodingOption,
    Format,
    FormatOption,
    GlossaryOption,
    Inputs,
    JsonOption,
    KeepOption,
    LengthPenaltyOption,
    MaxLengthOption,
    MaxNewOption,
    MinLengthOption,
    NoPivotOption,
    NoRepeatOption,
    OutOption,
    OverwriteOption,
    QuantizationOption,
    QuietOption,
    RegistryOption,
    RevisionOption,
    SummarizerOption,
    ThreadsOption,
    _emit,
    _engine_options,
    _out_target,
    _partial_exit,
    _read_documents,
    _report,
    _routable,
    _summary_generation,
)
from toolkit.cli.corpus import (
    ActorsOption,
    EngineOption,
    RayAddressOption,
    ResumeOption,
    ShardSizeOption,
    check_plain_flags,
    corpus_options,
    corpus_paths,
    run_corpus_command,
)
from toolkit.console import (
    quiet_libraries,
    user_errors,
)
from toolkit.errors import ToolkitError

DEFAULT_SHARD_SIZE = 1000


@app.command()
def translate(
    inputs: Inputs,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Hugging Face id or local folder (default: toolkit/data/defaults.yaml for the pair).")] = None,
    src: Annotated[str | None, typer.Option("--src", help="Source language, or auto to detect it per document (default: toolkit/data/defaults.yaml).")] = None,
    tgt: Annotated[str | None, typer.Option("--tgt", help="Target language (default: toolkit/data/defaults.yaml).")] = None,
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
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    resume: ResumeOption = False,
    engine_name: EngineOption = "local",
    ray_address: RayAddressOption = None,
    actors: ActorsOption = None,
) -> None:
    """Translate documents sentence by sentence, keeping their paragraphs and layout."""
    quiet_libraries()
    with user_errors():
        from toolkit.io.runs import base_manifest
        from toolkit.options import GenerationOptions, build
        from toolkit.tasks.documents import with_structured_files
        from toolkit.tasks.runner import run_batched
        from toolkit.tasks.translate import document_translator
        from toolkit.text.glossary import load_glossary

        engine = _engine_options("translation", device, backend, quantization, threads, batch_size, revision, dtype=dtype)
        generation = build(GenerationOptions, {"num_beams": beams, "max_new_tokens": max_new_tokens})
        paths = corpus_paths(inputs)
        corpus = corpus_options(shard_size, engine_name, ray_address, actors, encoding if paths else "utf-8")
        if paths is not None:
            from toolkit.execution.jobs import translate_job

            job = translate_job(model, src, tgt, engine, generation, allow_pivot=not no_pivot, registry_path=registry,
                                glossary=load_glossary(glossary, keep or []))
            run_corpus_command("translate", job, paths, out, fmt.value, corpus, overwrite, resume, as_json, quiet,
                               "translating")
            return
        check_plain_flags(resume, engine_name, shard_size, DEFAULT_SHARD_SIZE)
        docs, warnings = _read_documents(inputs, encoding)
        for doc in docs if fmt == Format.html else []:  # --format html: every input is HTML (e.g. stdin)
            doc.format = "html"
        terms = load_glossary(glossary, keep or [])
        run = _out_target(out, "translate", as_json, overwrite, inputs)
        with run if run is not None else nullcontext():
            translator = document_translator(docs, model, src, tgt, allow_pivot=not no_pivot, registry_path=registry,
                                             engine=engine, generation=generation, glossary=terms)
            docs, skipped = _routable(docs, translator)
            results = run_batched(docs, with_structured_files(translator), translator.count_sentences,
                                  "translating", show_progress=not quiet)
            head = {**base_manifest("translate"), "task": "translation", **translator.describe(),
                    "timing": TIMING_NOTE, "skipped": skipped}
            _emit(run, results, warnings + [f"{s['id']}: skipped: {s['reason']}" for s in skipped], fmt.value,
                  "translation", head, as_json, quiet, f"Translated {len(results)} document(s) to {translator.target_lang}")
        _partial_exit(skipped)


@app.command()
def summarize(
    inputs: Inputs,
    model: SummarizerOption = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of the documents (default: toolkit/data/defaults.yaml).")] = None,
    summary_lang: Annotated[str | None, typer.Option("--summary-lang", help="Language of the summaries, if not --lang: summarise, then translate the summary.")] = None,
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
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    resume: ResumeOption = False,
    engine_name: EngineOption = "local",
    ray_address: RayAddressOption = None,
    actors: ActorsOption = None,
) -> None:
    """Summarise documents of any length (map-reduce beyond the model's window), or extract lead-N / TextRank."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.io.runs import base_manifest
        from toolkit.tasks.pipeline import translate_summaries
        from toolkit.tasks.runner import run_batched
        from toolkit.tasks.summarize import load_summarizer
        from toolkit.text.languages import check_language

        generation = _summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        engine = _engine_options("summarization", device, backend, quantization, threads, batch_size, revision, dtype=dtype)
        lang = check_language(lang or load_defaults().summarization.lang)
        wanted = check_language(summary_lang, "--summary-lang") if summary_lang else lang
        paths = corpus_paths(inputs)
        corpus = corpus_options(shard_size, engine_name, ray_address, actors, encoding if paths else "utf-8")
        if paths is not None:
            from toolkit.execution.jobs import SummarizeJob, check_model

            check_model(model, revision)
            translation_engine = _engine_options("translation", device, backend, quantization, threads, dtype=dtype)
            job = SummarizeJob(model, lang, engine, generation, wanted if wanted != lang else None, translation_engine)
            run_corpus_command("summarize", job, paths, out, fmt.value, corpus, overwrite, resume, as_json, quiet,
                               "summarising")
            return
        check_plain_flags(resume, engine_name, shard_size, DEFAULT_SHARD_SIZE)
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
    translator_model: Annotated[str | None, typer.Option("--translator", help="Translation model (default: toolkit/data/defaults.yaml for the pair).")] = None,
    summarizer_model: Annotated[str | None, typer.Option("--summarizer", help="Summariser: model, lead-N or textrank[-N] (default: toolkit/data/defaults.yaml for the summary's input language).")] = None,
    order: Annotated[str | None, typer.Option("--order", help="translate-first (default) or summarize-first.")] = None,
    src: Annotated[str | None, typer.Option("--src", help="Source language, or auto (default: toolkit/data/defaults.yaml).")] = None,
    tgt: Annotated[str | None, typer.Option("--tgt", help="Target language.")] = None,
    summary_lang: Annotated[str | None, typer.Option("--summary-lang", help="Language of the summary (default: the target language).")] = None,
    no_pivot: NoPivotOption = False,
    registry: RegistryOption = None,
    min_length: MinLengthOption = None,
    max_length: MaxLengthOption = None,
    length_penalty: LengthPenaltyOption = None,
    no_repeat_ngram: NoRepeatOption = None,
    beams: Annotated[int | None, typer.Option("--beams", min=1, max=256, help="Beam size for both stages (default: each model's).")] = None,
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
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    resume: ResumeOption = False,
    engine_name: EngineOption = "local",
    ray_address: RayAddressOption = None,
    actors: ActorsOption = None,
) -> None:
    """Translate then summarise (or summarise then translate): both outputs per document, one manifest."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.io.results import write_results
        from toolkit.io.runs import base_manifest
        from toolkit.options import GenerationOptions, build
        from toolkit.tasks.pipeline import ORDERS, run_pipeline
        from toolkit.tasks.summarize import load_summarizer
        from toolkit.tasks.translate import document_translator
        from toolkit.text.glossary import load_glossary
        from toolkit.text.languages import check_language

        defaults = load_defaults()
        order = order or defaults.pipeline.order
        if order not in ORDERS:
            raise ToolkitError(f"--order {order}: expected translate-first or summarize-first")
        generation = _summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        engine = _engine_options("translation", device, backend, quantization, threads, dtype=dtype)
        summary_engine = _engine_options("summarization", device, backend, quantization, threads, dtype=dtype)
        terms = load_glossary(glossary, keep or [])
        paths = corpus_paths(inputs)
        corpus = corpus_options(shard_size, engine_name, ray_address, actors, encoding if paths else "utf-8")
        if paths is not None:
            from toolkit.execution.jobs import PipelineJob, check_model, translate_job

            check_model(summarizer_model)
            translation = translate_job(translator_model, src, tgt, engine, build(GenerationOptions, {"num_beams": beams}),
                                        allow_pivot=not no_pivot, registry_path=registry, glossary=terms)
            wanted = check_language(summary_lang, "--summary-lang") if summary_lang else None
            if order == "summarize-first" and wanted is not None and wanted == translation.src:
                raise ToolkitError("--order summarize-first with --summary-lang equal to the source language "
                                   "translates nothing: use translate-first, or toolkit summarize")
            job = PipelineJob(translation, summarizer_model, summary_engine, generation, order, wanted)
            run_corpus_command("pipeline", job, paths, out, "auto", corpus, overwrite, resume, as_json, quiet,
                               "translating and summarising")
            return
        check_plain_flags(resume, engine_name, shard_size, DEFAULT_SHARD_SIZE)
        if out == "-":
            raise ToolkitError("pipeline writes two outputs per document: --out must be a folder")
        docs, warnings = _read_documents(inputs, encoding)
        run = _out_target(out, "pipeline", as_json, overwrite, inputs)
        with run:
            translator = document_translator(docs, translator_model, src, tgt, allow_pivot=not no_pivot,
                                             registry_path=registry, engine=engine,
                                             generation=build(GenerationOptions, {"num_beams": beams}), glossary=terms)
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


