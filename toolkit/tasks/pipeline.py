"""Translate → summarise chains, in either order, over the same documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from toolkit.io.documents import Document, as_documents
from toolkit.io.results import DocumentResult
from toolkit.options import EngineOptions
from toolkit.tasks.runner import run_batched
from toolkit.tasks.summarize import Summarizer
from toolkit.tasks.translate import DocumentTranslator, Translator

Order = Literal["translate-first", "summarize-first"]
ORDERS = ("translate-first", "summarize-first")


@dataclass
class Stage:
    name: str  # "translate" | "summarize"
    description: dict[str, Any]
    results: list[DocumentResult]
    folder: str  # where its outputs go inside the run folder
    # How its outputs are written (toolkit.io.results.document_format): "auto" mirrors the inputs;
    # a summary and its translation are plain text whatever the input was, so "txt".
    output_format: str = "auto"


@dataclass
class PipelineResult:
    order: str
    stages: list[Stage] = field(default_factory=list)
    # Which stage holds the full translation and the final summary (what `evaluate` reads).
    outputs: dict[str, int] = field(default_factory=dict)
    summary_lang: str | None = None


def _as_documents(results: Sequence[DocumentResult], sources: Sequence[Document], lang: str,
                  plain: bool = False) -> list[Document]:
    """The outputs of a stage as the next stage's inputs: a translation keeps its source's format
    (HTML stays HTML), a summary (``plain``) is plain text, whose "<" and "&" are not markup."""
    return [Document(id=r.id, text=r.output, source=r.source,
                     format="html" if s.format == "html" and not plain else "txt", newline=s.newline, lang=lang)
            for r, s in zip(results, sources)]


def run_pipeline(docs: Sequence[Document], translator: Translator | DocumentTranslator, summarizer: Summarizer,
                 order: str, show_progress: bool = False, summary_lang: str | None = None,
                 summary_translator: Translator | DocumentTranslator | None = None) -> PipelineResult:
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

    def translate(stage_docs: Sequence[Document], with_: Translator | DocumentTranslator, folder: str,
                  output_format: str = "auto") -> list[DocumentResult]:
        from toolkit.tasks.documents import with_structured_files

        # A structured input (docx, srt, …) is translated into its own format; its summary is text.
        results = run_batched(stage_docs, with_structured_files(with_), with_.count_sentences, "translating",
                              show_progress)
        result.stages.append(Stage("translate", with_.describe(), results, folder, output_format))
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
            translate(_as_documents(summaries, docs, tgt, plain=True), summary_translator,  # type: ignore[arg-type]
                      "summaries", "txt")
    else:
        summaries = summarize(docs, "source-summaries")
        final = translator if summary_lang == tgt else summary_translator
        translate(_as_documents(summaries, docs, src, plain=True), final, "summaries", "txt")  # type: ignore[arg-type]
    result.outputs["summarization"] = len(result.stages) - 1
    result.summary_lang = summary_lang
    return result


def translate_summaries(docs: Sequence[Document], results: list[DocumentResult], lang: str, wanted: str,
                        engine: EngineOptions | None = None, show_progress: bool = False) -> dict[str, Any]:
    """`summarize --summary-lang`: each summary, written in the documents' language, is translated
    into ``wanted`` (in place: the original summary is kept in ``summary_in_source_language``).
    Returns the translator's description for the manifest."""
    from toolkit.tasks.translate import document_translator

    summaries = [Document(id=r.id, text=r.output, source=r.source, lang=lang) for r in results]
    translator = document_translator(summaries, None, lang, wanted, allow_pivot=True, engine=engine)
    translated = run_batched(summaries, translator.translate_batch, translator.count_sentences, "translating",
                             show_progress)
    for result, translation in zip(results, translated):
        result.extra["summary_in_source_language"] = result.output
        result.output = translation.output
        result.warnings += translation.warnings
    return translator.describe()


class Pipeline:
    """Translation and summary of the same documents, as `toolkit pipeline` makes them.

        >>> pipe = Pipeline(Translator.from_pretrained(...), Summarizer.from_pretrained("lead-3"))
        >>> pipe.process(["Un article ..."])   # [{"translation": "...", "summary": "..."}]
    """

    def __init__(self, translator: Translator, summarizer: Summarizer, order: str = "translate-first",
                 summary_lang: str | None = None, summary_translator: Translator | None = None) -> None:
        self.translator = translator
        self.summarizer = summarizer
        self.order = order
        self.summary_lang = summary_lang
        self.summary_translator = summary_translator

    def run(self, docs: Sequence[Document | str], show_progress: bool = False) -> PipelineResult:
        """Every stage's results, with the manifest's descriptions."""
        return run_pipeline(list(as_documents(docs)), self.translator, self.summarizer, self.order, show_progress,
                            self.summary_lang, self.summary_translator)

    def process(self, texts: Sequence[Document | str]) -> list[dict[str, str | None]]:
        """Per input: its full translation (None for summarize-first) and its final summary."""
        result = self.run(texts)
        translation = result.outputs.get("translation")
        summaries = result.stages[result.outputs["summarization"]].results
        translations = result.stages[translation].results if translation is not None else [None] * len(summaries)
        return [{"translation": t.output if t is not None else None, "summary": s.output}
                for t, s in zip(translations, summaries)]
