"""`toolkit translate`, `summarize` and `pipeline`: the commands that generate text. Their shared
options are one group (cli/group.py: RunOptions), and one runner sends the inputs down the corpus
path or the plain path; each command says only what is its own."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    TIMING_NOTE,
    BatchOption,
    BeamsOption,
    Format,
    FormatOption,
    GlossaryOption,
    Inputs,
    KeepOption,
    LengthPenaltyOption,
    MaxLengthOption,
    MaxNewOption,
    MemoryMaxOption,
    MemoryOption,
    MinLengthOption,
    NoChecksOption,
    NoDedupeOption,
    NoPivotOption,
    NoRepeatOption,
    OnRiskOption,
    RegistryOption,
    RevisionOption,
    SummarizerOption,
    TranslateFormat,
    TranslateFormatOption,
    emit,
    forced_document_format,
    generation_choices,
    is_document_format,
    memory_choices,
    quality_choice,
    report,
    routable,
    summary_generation,
)
from toolkit.cli.group import RunOptions, run_inputs, with_options
from toolkit.cli.output import user_errors
from toolkit.errors import ToolkitError
from toolkit.limits import bounds
from toolkit.runtime import quiet_libraries


@app.command()
@with_options
def translate(
    inputs: Inputs,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Hugging Face id or local folder (default: toolkit/data/defaults.yaml for the pair).")] = None,
    src: Annotated[str | None, typer.Option("--src", help="Source language, or auto to detect it per document (default: toolkit/data/defaults.yaml).")] = None,
    tgt: Annotated[str | None, typer.Option("--tgt", help="Target language (default: toolkit/data/defaults.yaml).")] = None,
    no_pivot: NoPivotOption = False,
    registry: RegistryOption = None,
    fmt: TranslateFormatOption = TranslateFormat.auto,
    beams: BeamsOption = None,
    max_new_tokens: MaxNewOption = None,
    batch_size: BatchOption = None,
    revision: RevisionOption = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    no_dedupe: NoDedupeOption = False,
    tm: MemoryOption = None,
    tm_max_entries: MemoryMaxOption = None,
    no_checks: NoChecksOption = False,
    on_risk: OnRiskOption = None,
    options: RunOptions = RunOptions(),
) -> None:
    """Translate documents sentence by sentence, keeping their paragraphs and layout."""
    quiet_libraries()
    with user_errors():
        from toolkit.text.glossary import load_glossary

        engine = options.engine("translation", batch_size, revision)
        engine = memory_choices(engine, no_dedupe, tm, tm_max_entries)
        generation = generation_choices(beams, max_new_tokens=max_new_tokens)
        terms = load_glossary(glossary, keep or [])
        quality = quality_choice(no_checks, on_risk)

        # --format docx (any document format) forces how the inputs are read; the output format is
        # then the documents' own.
        out_fmt = "auto" if is_document_format(fmt) else fmt.value

        def job() -> Any:
            from toolkit.execution.jobs import translate_job

            if is_document_format(fmt):
                raise ToolkitError(f"--format {fmt.value} reads document files; a JSONL corpus is written as txt, "
                                   "md, html or jsonl")
            return translate_job(model, src, tgt, engine, generation, allow_pivot=not no_pivot, registry_path=registry,
                                 glossary=terms, quality=quality)

        def plain(docs: list[Any], warnings: list[str], skipped: list[dict[str, str]], run: Any) -> None:
            from toolkit.io.runs import base_manifest
            from toolkit.quality.annotate import run_summary
            from toolkit.tasks.documents import with_structured_files
            from toolkit.tasks.runner import run_batched
            from toolkit.tasks.translate import document_translator

            for doc in docs if fmt == TranslateFormat.html else []:  # --format html: every input is HTML (e.g. stdin)
                doc.format = "html"
            if is_document_format(fmt):
                forced_document_format(docs, fmt)
            translator = document_translator(docs, model, src, tgt, allow_pivot=not no_pivot, registry_path=registry,
                                             engine=engine, generation=generation, glossary=terms, quality=quality)
            docs, unroutable = routable(docs, translator)
            skipped += unroutable
            results = run_batched(docs, with_structured_files(translator), translator.count_sentences,
                                  "translating", show_progress=not options.quiet)
            head = {**base_manifest("translate"), "task": "translation", **translator.describe(),
                    "units": translator.counts.to_dict(), "timing": TIMING_NOTE, "skipped": skipped}
            summary = run_summary(results)
            if summary is not None:
                head["quality"] = summary
            emit(run, results, warnings + [f"{s['id']}: skipped: {s['reason']}" for s in unroutable], out_fmt,
                 "translation", head, options.as_json, options.quiet,
                 f"Translated {len(results)} document(s) to {translator.target_lang}")

        run_inputs("translate", inputs, options, job, plain, out_fmt, "translating")


@app.command()
@with_options
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
    fmt: FormatOption = Format.auto,
    batch_size: BatchOption = None,
    revision: RevisionOption = None,
    options: RunOptions = RunOptions(),
) -> None:
    """Summarise documents of any length (map-reduce beyond the model's window), or extract lead-N / TextRank."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.text.languages import check_language

        generation = summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        engine = options.engine("summarization", batch_size, revision)
        lang = check_language(lang or load_defaults().summarization.lang)
        wanted = check_language(summary_lang, "--summary-lang") if summary_lang else lang
        translation_engine = options.engine("translation")

        def job() -> Any:
            from toolkit.execution.jobs import SummarizeJob, check_model

            check_model(model, revision)
            return SummarizeJob(model, lang, engine, generation, wanted if wanted != lang else None, translation_engine)

        def plain(docs: list[Any], warnings: list[str], skipped: list[dict[str, str]], run: Any) -> None:
            from toolkit.io.runs import base_manifest
            from toolkit.tasks.pipeline import translate_summaries
            from toolkit.tasks.runner import run_batched
            from toolkit.tasks.summarize import load_summarizer

            summarizer = load_summarizer(model, lang, engine, generation)
            results = run_batched(docs, summarizer.summarize_documents, summarizer.count_units, "summarising",
                                  show_progress=not options.quiet)
            head = {**base_manifest("summarize"), "task": "summarization", **summarizer.describe(), "skipped": skipped}
            if wanted != lang:
                described = translate_summaries(docs, results, lang, wanted, translation_engine, not options.quiet)
                head = {**head, "summary_lang": wanted, "summary_translation": described}
            emit(run, results, warnings, fmt.value, "summary", head, options.as_json, options.quiet,
                 f"Summarised {len(results)} document(s) with {summarizer.describe()['model']['reference']}")

        run_inputs("summarize", inputs, options, job, plain, fmt.value, "summarising")


@app.command()
@with_options
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
    beams: Annotated[int | None, typer.Option("--beams", **bounds("num_beams"), help="Beam size for both stages (default: each model's).")] = None,
    glossary: GlossaryOption = None,
    keep: KeepOption = None,
    no_checks: NoChecksOption = False,
    on_risk: OnRiskOption = None,
    options: RunOptions = RunOptions(),
) -> None:
    """Translate then summarise (or summarise then translate): both outputs per document, one manifest."""
    quiet_libraries()
    with user_errors():
        from toolkit.config import load_defaults
        from toolkit.tasks.pipeline import ORDERS
        from toolkit.text.glossary import load_glossary
        from toolkit.text.languages import check_language

        order = order or load_defaults().pipeline.order
        if order not in ORDERS:
            raise ToolkitError(f"--order {order}: expected translate-first or summarize-first")
        generation = summary_generation(beams, min_length, max_length, length_penalty, no_repeat_ngram)
        translation_generation = generation_choices(beams)
        engine = options.engine("translation")
        summary_engine = options.engine("summarization")
        terms = load_glossary(glossary, keep or [])
        quality = quality_choice(no_checks, on_risk)

        def job() -> Any:
            from toolkit.execution.jobs import PipelineJob, check_model, translate_job

            check_model(summarizer_model)
            translation = translate_job(translator_model, src, tgt, engine, translation_generation,
                                        allow_pivot=not no_pivot, registry_path=registry, glossary=terms,
                                        quality=quality)
            wanted = check_language(summary_lang, "--summary-lang") if summary_lang else None
            if order == "summarize-first" and wanted is not None and wanted == translation.src:
                raise ToolkitError("--order summarize-first with --summary-lang equal to the source language "
                                   "translates nothing: use translate-first, or toolkit summarize")
            return PipelineJob(translation, summarizer_model, summary_engine, generation, order, wanted)

        def plain(docs: list[Any], warnings: list[str], skipped: list[dict[str, str]], run: Any) -> None:
            from toolkit.io.results import write_results
            from toolkit.io.runs import base_manifest
            from toolkit.quality.annotate import run_summary
            from toolkit.tasks.pipeline import run_pipeline
            from toolkit.tasks.summarize import load_summarizer
            from toolkit.tasks.translate import document_translator

            translator = document_translator(docs, translator_model, src, tgt, allow_pivot=not no_pivot,
                                             registry_path=registry, engine=engine, generation=translation_generation,
                                             glossary=terms, quality=quality)
            docs, unroutable = routable(docs, translator)
            skipped += unroutable
            warnings += [f"{s['id']}: skipped: {s['reason']}" for s in unroutable]
            source, target = translator.source_lang, translator.target_lang
            wanted = check_language(summary_lang, "--summary-lang") if summary_lang else target
            summary_translator = None
            if wanted not in (source, target):
                via = target if order == "translate-first" else source
                summary_translator = document_translator(docs, None, via, wanted, allow_pivot=not no_pivot,
                                                         registry_path=registry, engine=engine)
            summary_input_lang = source if order == "summarize-first" or wanted == source else target
            summarizer = load_summarizer(summarizer_model, summary_input_lang, summary_engine, generation)
            result = run_pipeline(docs, translator, summarizer, order, not options.quiet, wanted, summary_translator)
            stages, tables = [], {}
            checked = None
            for stage in result.stages:
                entries = write_results(run, stage.results, stage.output_format, subdir=stage.folder)
                stage_warnings = [w for r in stage.results for w in r.warnings]
                warnings += stage_warnings
                stages.append({"stage": stage.name, "folder": stage.folder, **stage.description,
                               "documents": entries, "warnings": stage_warnings})
                quality_summary = run_summary(stage.results) if stage.name == "translate" else None
                if quality_summary is not None:
                    stages[-1]["quality"] = checked = quality_summary
                tables[stage.folder] = entries
            manifest = {**base_manifest("pipeline"), "task": "pipeline", "order": order, "timing": TIMING_NOTE,
                        "source_lang": source, "target_lang": target, "summary_lang": result.summary_lang,
                        "stages": stages, "outputs": result.outputs, "skipped": skipped, "warnings": warnings}
            target_dir = run.commit(manifest)
            report(target_dir, tables, warnings, options.as_json, options.quiet, "Pipeline:", checked)

        run_inputs("pipeline", inputs, options, job, plain, "auto", "translating and summarising", stdout=False)
