"""Translate → summarise chains, in either order, over the same documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from toolkit.documents import Document
from toolkit.results import DocumentResult
from toolkit.runner import run_documents
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


def _as_documents(results: Sequence[DocumentResult], sources: Sequence[Document], lang: str) -> list[Document]:
    return [Document(id=r.id, text=r.output, source=r.source, format="txt", newline=s.newline, lang=lang)
            for r, s in zip(results, sources)]


def run_pipeline(docs: Sequence[Document], translator: Translator, summarizer: Summarizer, order: str,
                 show_progress: bool = False) -> PipelineResult:
    """translate-first: full translation, then a summary of it (in the target language).
    summarize-first: a summary in the source language, then its translation."""
    if order not in ORDERS:
        from toolkit.errors import ToolkitError

        raise ToolkitError(f"--order {order}: expected translate-first or summarize-first")
    result = PipelineResult(order)
    if order == "translate-first":
        translations = run_documents(docs, translator.translate_document, translator.count_sentences,
                                     "translating", show_progress)
        result.stages.append(Stage("translate", translator.describe(), translations, "translations"))
        english = _as_documents(translations, docs, translator.target_lang)
        summaries = run_documents(english, summarizer.summarize_document, summarizer.count_units,
                                  "summarising", show_progress)
        result.stages.append(Stage("summarize", summarizer.describe(), summaries, "summaries"))
        result.outputs = {"translation": 0, "summarization": 1}
    else:
        summaries = run_documents(docs, summarizer.summarize_document, summarizer.count_units,
                                  "summarising", show_progress)
        result.stages.append(Stage("summarize", summarizer.describe(), summaries, "source-summaries"))
        source_summaries = _as_documents(summaries, docs, translator.source_lang)
        translated = run_documents(source_summaries, translator.translate_document, translator.count_sentences,
                                   "translating", show_progress)
        result.stages.append(Stage("translate", translator.describe(), translated, "summaries"))
        result.outputs = {"summarization": 1}
    return result
