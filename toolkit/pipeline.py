"""Translate → summarise chains, in either order, over the same documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from toolkit.documents import Document
from toolkit.results import DocumentResult
from toolkit.runner import run_batched
from toolkit.summarize import Summarizer
from toolkit.translate import Translator

Order = Literal["translate-first", "summarize-first"]
ORDERS = ("translate-first", "summarize-first")


@dataclass
class Stage:
    name: str  # "translate" | "summarize"
    description: dict[str, Any]
    results: list[DocumentResult]
    folder: str  # where its outputs go inside the run folder


@dataclass
class PipelineResult:
    order: str
    stages: list[Stage] = field(default_factory=list)
    # Which stage holds the full translation and the final summary (what `evaluate` reads).
    outputs: dict[str, int] = field(default_factory=dict)
    summary_lang: str | None = None


def _as_documents(results: Sequence[DocumentResult], sources: Sequence[Document], lang: str) -> list[Document]:
    return [Document(id=r.id, text=r.output, source=r.source, format="html" if s.format == "html" else "txt",
                     newline=s.newline, lang=lang)
            for r, s in zip(results, sources)]


def run_pipeline(docs: Sequence[Document], translator: Translator, summarizer: Summarizer, order: str,
                 show_progress: bool = False, summary_lang: str | None = None,
                 summary_translator: Translator | None = None) -> PipelineResult:
    """translate-first: full translation, then a summary of it (in the target language).
    summarize-first: a summary in the source language, then its translation.

    ``summary_lang`` (default: the target language) asks for the summary in another language:
    the source language (translate-first: the source is summarised directly), or a third one
    (the summary is translated into it by ``summary_translator``)."""
    from toolkit.errors import ToolkitError

    if order not in ORDERS:
        raise ToolkitError(f"--order {order}: expected translate-first or summarize-first")
    src, tgt = translator.source_lang, translator.target_lang
    summary_lang = summary_lang or tgt
    if summary_lang not in (src, tgt) and summary_translator is None:
        raise ToolkitError(f"a summary in {summary_lang} needs a translator into {summary_lang}")
    if order == "summarize-first" and summary_lang == src:
        raise ToolkitError("--order summarize-first with --summary-lang equal to the source language translates "
                           "nothing: use translate-first, or toolkit summarize")
    result = PipelineResult(order)

    def translate(stage_docs: Sequence[Document], with_: Translator, folder: str) -> list[DocumentResult]:
        results = run_batched(stage_docs, with_.translate_documents, with_.count_sentences, "translating", show_progress)
        result.stages.append(Stage("translate", with_.describe(), results, folder))
        return results

    def summarize(stage_docs: Sequence[Document], folder: str) -> list[DocumentResult]:
        results = run_batched(stage_docs, summarizer.summarize_documents, summarizer.count_units, "summarising",
                              show_progress)
        result.stages.append(Stage("summarize", summarizer.describe(), results, folder))
        return results

    if order == "translate-first":
        translations = translate(docs, translator, "translations")
        result.outputs["translation"] = 0
        if summary_lang == src:
            summarize(docs, "summaries")
        elif summary_lang == tgt:
            summarize(_as_documents(translations, docs, tgt), "summaries")
        else:
            summaries = summarize(_as_documents(translations, docs, tgt), f"summaries-{tgt}")
            translate(_as_documents(summaries, docs, tgt), summary_translator, "summaries")  # type: ignore[arg-type]
    else:
        summaries = summarize(docs, "source-summaries")
        final = translator if summary_lang == tgt else summary_translator
        translate(_as_documents(summaries, docs, src), final, "summaries")  # type: ignore[arg-type]
    result.outputs["summarization"] = len(result.stages) - 1
    result.summary_lang = summary_lang
    return result
