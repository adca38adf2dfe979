"""toolkit: multilingual translation and summarisation with an honest evaluation harness.

The public API, the same code the CLI runs::

    from toolkit import Translator, Summarizer, Pipeline, evaluate
    tr = Translator.from_pretrained("Helsinki-NLP/opus-mt-fr-en", backend="ct2")   # or a local folder
    tr.translate(["Bonjour le monde."])                 # -> list[str]
    for result in tr.translate_documents(docs): ...     # DocumentResult: output, segments, timing
    Summarizer.from_pretrained("textrank-3", lang="fr").summarize(["Un long article ..."])
    data, report = translate_file("talk.docx", tr)      # same format back; report: structure counts
    evaluate(hypotheses, [[reference] for reference in references], task="translation")
    job = TranslateJob("Helsinki-NLP/opus-mt-fr-en", "fr", "en", EngineOptions(backend="ct2"), GenerationOptions())
    process_corpus(job, [Path("news.jsonl")], Path("runs/news"), CorpusOptions(engine="ray"), resume=True)

Names are imported on first use, so ``import toolkit`` (and ``toolkit --help``) stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from toolkit.version import __version__ as __version__

_EXPORTS = {
    "Translator": "toolkit.tasks.translate",
    "Summarizer": "toolkit.tasks.summarize",
    "Pipeline": "toolkit.tasks.pipeline",
    "Document": "toolkit.io.documents",
    "DocumentResult": "toolkit.io.results",
    "EngineOptions": "toolkit.options",
    "GenerationOptions": "toolkit.options",
    "ToolkitError": "toolkit.errors",
    "CorpusOptions": "toolkit.options",
    "TranslateJob": "toolkit.execution.jobs",
    "SummarizeJob": "toolkit.execution.jobs",
    "PipelineJob": "toolkit.execution.jobs",
    "process_corpus": "toolkit.execution.corpus",
    "evaluate": "toolkit.evaluation",
    "evaluate_paths": "toolkit.evaluation",
    "translate_file": "toolkit.tasks.documents",
    "DocumentOptions": "toolkit.options",
}
__all__ = ["CorpusOptions", "Document", "DocumentOptions", "DocumentResult", "EngineOptions", "GenerationOptions", "Pipeline",
           "PipelineJob", "SummarizeJob", "Summarizer", "ToolkitError", "TranslateJob", "Translator", "evaluate",
           "evaluate_paths", "process_corpus", "translate_file"]

if TYPE_CHECKING:
    from toolkit.errors import ToolkitError
    from toolkit.evaluation import evaluate, evaluate_paths
    from toolkit.execution.corpus import process_corpus
    from toolkit.execution.jobs import PipelineJob, SummarizeJob, TranslateJob
    from toolkit.io.documents import Document
    from toolkit.io.results import DocumentResult
    from toolkit.options import CorpusOptions, DocumentOptions, EngineOptions, GenerationOptions
    from toolkit.tasks.documents import translate_file
    from toolkit.tasks.pipeline import Pipeline
    from toolkit.tasks.summarize import Summarizer
    from toolkit.tasks.translate import Translator


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
