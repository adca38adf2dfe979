"""The corpus jobs of `toolkit translate`, `summarize` and `pipeline`: picklable settings that
build, where the work runs, the task that turns documents into output-record fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.execution.work import DocumentOutput
from toolkit.io.documents import Document
from toolkit.io.results import DocumentResult
from toolkit.options import EngineOptions, GenerationOptions, QualityOptions
from toolkit.quality.annotate import run_summary
from toolkit.version import __version__ as toolkit_version

if TYPE_CHECKING:
    from toolkit.tasks.summarize import Summarizer
    from toolkit.tasks.translate import DocumentTranslator
    from toolkit.text.glossary import Glossary


# Option fields that cannot change an output byte, each with the reason; every other field of the
# option objects is in the fingerprint (tests/test_corpus.py proves each one changes it).
NOT_FINGERPRINTED = {
    "EngineOptions.threads": "threads change speed, not outputs: a run may be resumed with others or on Ray",
    "EngineOptions.confidence": "a score recorded beside each output, not the output itself",
    "CorpusOptions.engine": "local and Ray runs give the same bytes (tested)",
    "CorpusOptions.ray_address": "where Ray runs, not what it computes",
    "CorpusOptions.actors": "how many Ray workers, not what they compute",
    "EngineOptions.dedupe": "a deduplicated unit gets the record its first copy got (tested: same bytes)",
    "EngineOptions.memory": "a translation-memory hit is the record the same model and settings gave (tested)",
    "EngineOptions.memory_max_entries": "the memory's size bound, not what it holds",
}


def _engine_fingerprint(engine: EngineOptions) -> dict[str, Any]:
    return engine.model_dump(exclude={"threads", "confidence", "dedupe", "memory", "memory_max_entries"})


def model_identity(reference: str, revision: str | None = None) -> dict[str, Any]:
    """What decides a model's outputs, for ``--resume``: a local folder's resolved path and the
    hash of its files' content (weights replaced in place, or another folder of the same name,
    are told apart); a hub model's id, the revision asked for and the snapshot (commit) used; an
    extractive summariser's name."""
    from toolkit.models.hub import resolve_model
    from toolkit.tasks.summarize import EXTRACTIVE

    if EXTRACTIVE.match(reference.lower()) and not Path(reference).exists():
        return {"extractive": reference.lower()}
    ref = resolve_model(reference, revision)
    if ref.source == "local":
        return {"local": str(ref.path), "content_hash": ref.content_hash}
    return {"hub": ref.reference, "revision": revision, "snapshot": ref.revision}


def _routing_identity(model: str | None, src: str, tgt: str, allow_pivot: bool, registry_path: Path | None,
                      revision: str | None) -> dict[str, Any]:
    """The models a translation uses: ``--model``'s identity, or with a known source language
    each hop's; and the registry and pinned pairs by content, not file name (they choose the
    models, and a multi-target model's target token even with ``--model``)."""
    from toolkit.config import load_defaults
    from toolkit.models.registry import load_registry, resolve_route

    registry = load_registry(registry_path) if registry_path else load_registry()
    pinned = {} if registry_path else dict(load_defaults().translation.models)
    # A digest keeps the marker and the manifest small (the shipped registry is long).
    routes = json.dumps({"registry": registry.model_dump(mode="json"), "pinned": pinned}, sort_keys=True)
    found: dict[str, Any] = {"model": model_identity(model, revision) if model else None,
                             "registry_sha256": hashlib.sha256(routes.encode("utf-8")).hexdigest()}
    if not model and src != "auto":
        route = resolve_route(src, tgt, registry, allow_pivot, pinned)
        found["route"] = [{"hop": f"{hop.src}-{hop.tgt}", **model_identity(hop.model, revision)} for hop in route.hops]
    return found


def _glossary_fingerprint(glossary: Glossary | None) -> dict[str, Any] | None:
    # The terms themselves, --keep ones included (they have no file), as a digest: a glossary of
    # thousands of terms must not make the marker and the manifest large.
    if not glossary:
        return None
    terms = json.dumps(sorted(glossary.entries.items()))  # ASCII: a term from argv may hold a surrogate
    return {"terms": len(glossary.entries), "sha256": hashlib.sha256(terms.encode("utf-8")).hexdigest()}


def _details(result: DocumentResult) -> dict[str, Any]:
    """A document's details without its timing (shared batches make it an estimate, and the
    shard files must be the same bytes whenever and wherever they are made)."""
    entry = result.to_manifest(None)
    for key in ("id", "source", "output_file", "seconds"):
        entry.pop(key, None)
    return entry


@dataclass
class TranslateJob:
    model: str | None
    src: str
    tgt: str
    engine: EngineOptions
    generation: GenerationOptions
    allow_pivot: bool = True
    registry_path: Path | None = None
    glossary: Glossary | None = None
    command: str = "translate"
    # The checks' thresholds (None: sentences not assessed), on by default as in the CLI.
    # Fingerprinted: the flags and risks they give are in the details files, which a resumed run
    # must write as the first run did.
    quality: QualityOptions | None = field(default_factory=QualityOptions)

    def build(self) -> TranslateTask:
        return TranslateTask(self)

    def with_threads(self, threads: int) -> TranslateJob:
        """The job with ``threads`` inference threads (a Ray actor's CPUs)."""
        return replace(self, engine=self.engine.replace(threads=threads))

    def fingerprint(self) -> dict[str, Any]:
        routing = _routing_identity(self.model, self.src, self.tgt, self.allow_pivot, self.registry_path,
                                    self.engine.revision)
        return {"command": self.command, "toolkit_version": toolkit_version, **routing,
                "src": self.src, "tgt": self.tgt, "allow_pivot": self.allow_pivot,
                "engine": _engine_fingerprint(self.engine), "generation": self.generation.model_dump(),
                "glossary": _glossary_fingerprint(self.glossary),
                "quality": self.quality.model_dump(mode="json") if self.quality is not None else None}


def translate_job(model: str | None, src: str | None, tgt: str | None, engine: EngineOptions,
                  generation: GenerationOptions, *, allow_pivot: bool = True, registry_path: Path | None = None,
                  glossary: Glossary | None = None, quality: QualityOptions | None = None) -> TranslateJob:
    """A TranslateJob with the languages given or configured (``auto``: detected per document);
    ``quality=None``: not assessed."""
    from toolkit.tasks.translate import translation_pair

    source, target = translation_pair(src, tgt)
    if model:
        check_model(model, engine.revision)
    return TranslateJob(model, source, target, engine, generation, allow_pivot, registry_path, glossary,
                        quality=quality)


def check_model(reference: str | None, revision: str | None = None) -> None:
    """Fail before any run folder exists when a model given by name cannot be had."""
    from toolkit.models.hub import resolve_model
    from toolkit.tasks.summarize import EXTRACTIVE

    if reference and not EXTRACTIVE.match(reference):
        resolve_model(reference, revision)


def _router(job: TranslateJob) -> DocumentTranslator:
    from toolkit.tasks.translate import document_translator

    router = document_translator([], job.model, job.src, job.tgt, allow_pivot=job.allow_pivot,
                                 registry_path=job.registry_path, engine=job.engine, generation=job.generation,
                                 glossary=job.glossary, quality=job.quality)
    if job.src != "auto":  # a model that cannot be loaded stops the run, before any shard
        router.prepare([Document(id="", text="", source="", lang=job.src)])
    return router


def _translate(router: DocumentTranslator, docs: Sequence[Document], on_batch: Callable[[int], None] | None
               ) -> list[DocumentResult | str]:
    """Each document's translation, or why it was skipped (``--src auto``: no route, already in the
    target language)."""
    router.prepare(docs, require_any=False)
    routable = [d for d in docs if d.id not in router.skipped]
    translated = iter(router.translate_batch(routable, on_batch)) if routable else iter(())
    return [router.skipped[d.id] if d.id in router.skipped else next(translated) for d in docs]


class TranslateTask:
    output_keys = ("translation",)

    def __init__(self, job: TranslateJob) -> None:
        self.job = job
        self.router = _router(job)

    def run(self, docs: Sequence[Document], on_progress: Callable[[int], None] | None = None
            ) -> list[DocumentOutput | str]:
        outputs: list[DocumentOutput | str] = []
        for result in _translate(self.router, docs, None):
            if isinstance(result, str):
                outputs.append(result)
                continue
            fields: dict[str, Any] = {"translation": result.output}
            if self.job.src == "auto":
                fields["source_lang"] = result.extra.get("source_lang")
            outputs.append(DocumentOutput(fields, _details(result), result.source_tokens, result.output_tokens,
                                          run_summary([result])))
        return outputs

    def describe(self) -> dict[str, Any]:
        return {"task": "translation", **self.router.describe()}

    def unit_counts(self) -> dict[str, int]:
        return self.router.counts.to_dict()


@dataclass
class SummarizeJob:
    model: str | None
    lang: str
    engine: EngineOptions
    generation: GenerationOptions
    summary_lang: str | None = None
    translation_engine: EngineOptions | None = None
    command: str = "summarize"

    def build(self) -> SummarizeTask:
        return SummarizeTask(self)

    def with_threads(self, threads: int) -> SummarizeJob:
        translation = self.translation_engine.replace(threads=threads) if self.translation_engine else None
        return replace(self, engine=self.engine.replace(threads=threads), translation_engine=translation)

    def fingerprint(self) -> dict[str, Any]:
        from toolkit.config import default_summarization_model

        translation = None
        if self.summary_lang and self.summary_lang != self.lang:
            engine = self.translation_engine or self.engine
            translation = {**_routing_identity(None, self.lang, self.summary_lang, True, None, engine.revision),
                           "engine": _engine_fingerprint(engine)}
        return {"command": self.command, "toolkit_version": toolkit_version,
                "model": model_identity(self.model or default_summarization_model(self.lang), self.engine.revision),
                "lang": self.lang, "summary_lang": self.summary_lang, "engine": _engine_fingerprint(self.engine),
                "generation": self.generation.model_dump(), "summary_translation": translation}


class SummarizeTask:
    output_keys = ("summary",)

    def __init__(self, job: SummarizeJob) -> None:
        from toolkit.tasks.summarize import load_summarizer

        self.job = job
        self.summarizer = load_summarizer(job.model, job.lang, job.engine, job.generation)
        self.router = None
        if job.summary_lang and job.summary_lang != job.lang:
            self.router = _router(TranslateJob(None, job.lang, job.summary_lang, job.translation_engine or job.engine,
                                               GenerationOptions(), quality=None))

    def run(self, docs: Sequence[Document], on_progress: Callable[[int], None] | None = None
            ) -> list[DocumentOutput | str]:
        results = self.summarizer.summarize_documents(docs)
        if self.router is None:
            return [DocumentOutput({"summary": r.output}, _details(r), r.source_tokens, r.output_tokens)
                    for r in results]
        summaries = [Document(id=r.id, text=r.output, source=r.source, lang=self.job.lang) for r in results]
        outputs: list[DocumentOutput | str] = []
        for result, translated in zip(results, _translate(self.router, summaries, None)):
            if isinstance(translated, str):
                outputs.append(f"summary translation: {translated}")
                continue
            details = {**_details(result), "summary_in_source_language": result.output,
                       "summary_translation": _details(translated)}
            details["warnings"] = details["warnings"] + translated.warnings
            outputs.append(DocumentOutput({"summary": translated.output}, details, result.source_tokens,
                                          result.output_tokens))
        return outputs

    def unit_counts(self) -> dict[str, int]:
        """The summaries' translation units (none without --summary-lang)."""
        return self.router.counts.to_dict() if self.router is not None else {}

    def describe(self) -> dict[str, Any]:
        head = {"task": "summarization", **self.summarizer.describe()}
        if self.router is not None:
            head = {**head, "summary_lang": self.job.summary_lang, "summary_translation": self.router.describe()}
        return head


@dataclass
class PipelineJob:
    translator: TranslateJob
    summarizer_model: str | None
    summary_engine: EngineOptions
    summary_generation: GenerationOptions
    order: str = "translate-first"
    summary_lang: str | None = None
    command: str = "pipeline"

    def build(self) -> PipelineTask:
        return PipelineTask(self)

    def with_threads(self, threads: int) -> PipelineJob:
        return replace(self, translator=self.translator.with_threads(threads),
                       summary_engine=self.summary_engine.replace(threads=threads))

    def fingerprint(self) -> dict[str, Any]:
        from toolkit.config import load_defaults

        # With --src auto the summariser (when not given) is chosen per language: its choices.
        summarizer: Any = (model_identity(self.summarizer_model, self.summary_engine.revision)
                           if self.summarizer_model else {"per_language": dict(load_defaults().summarization.models)})
        return {**self.translator.fingerprint(), "command": self.command, "order": self.order,
                "summarizer": summarizer, "summary_lang": self.summary_lang,
                "summary_engine": _engine_fingerprint(self.summary_engine),
                "summary_generation": self.summary_generation.model_dump()}


class PipelineTask:
    """Translation and summary per document. With ``--src auto`` the source language is known
    only per chunk: the summariser and the summary's translator are loaded as languages appear."""

    output_keys = ("translation", "summary")

    def __init__(self, job: PipelineJob) -> None:
        self.job = job
        self.router = _router(job.translator)
        self.summarizers: dict[str, Summarizer] = {}
        self.summary_routers: dict[tuple[str, str], DocumentTranslator] = {}
        self.stages: dict[str, dict[str, Any]] = {}

    def _summarizer(self, lang: str) -> Summarizer:
        from toolkit.tasks.summarize import load_summarizer

        if lang not in self.summarizers:
            self.summarizers[lang] = load_summarizer(self.job.summarizer_model, lang, self.job.summary_engine,
                                                     self.job.summary_generation)
        return self.summarizers[lang]

    def _summary_router(self, via: str, wanted: str) -> DocumentTranslator:
        if (via, wanted) not in self.summary_routers:
            self.summary_routers[via, wanted] = _router(TranslateJob(
                None, via, wanted, self.job.translator.engine, GenerationOptions(),
                allow_pivot=self.job.translator.allow_pivot, registry_path=self.job.translator.registry_path,
                quality=None))
        return self.summary_routers[via, wanted]

    def run(self, docs: Sequence[Document], on_progress: Callable[[int], None] | None = None
            ) -> list[DocumentOutput | str]:
        from toolkit.tasks.pipeline import run_pipeline

        router = self.router
        router.prepare(docs, require_any=False)
        routable = [d for d in docs if d.id not in router.skipped]
        done: dict[str, DocumentOutput] = {}
        if routable:
            src, tgt = router.source_lang, router.target_lang
            wanted = self.job.summary_lang or tgt
            summary_router = None
            if wanted not in (src, tgt):
                summary_router = self._summary_router(tgt if self.job.order == "translate-first" else src, wanted)
                summary_router.prepare([], require_any=False)
            summary_input = src if self.job.order == "summarize-first" or wanted == src else tgt
            result = run_pipeline(routable, router, self._summarizer(summary_input), self.job.order, False, wanted,
                                  summary_router)
            for stage in result.stages:
                self.stages[stage.folder] = {"stage": stage.name, **stage.description}
            translation = result.outputs.get("translation")
            summaries = result.stages[result.outputs["summarization"]].results
            for i, doc in enumerate(routable):
                fields: dict[str, Any] = {}
                if translation is not None:
                    fields["translation"] = result.stages[translation].results[i].output
                fields["summary"] = summaries[i].output
                if self.job.translator.src == "auto":
                    fields["source_lang"] = router.languages[doc.id]
                details: dict[str, Any] = {
                    "stages": {stage.folder: _details(stage.results[i]) for stage in result.stages},
                    "warnings": [w for stage in result.stages for w in stage.results[i].warnings]}
                first = result.stages[0].results[i]
                translated = [stage.results[i] for stage in result.stages if stage.name == "translate"]
                done[doc.id] = DocumentOutput(fields, details, first.source_tokens,
                                              sum(stage.results[i].output_tokens for stage in result.stages),
                                              run_summary(translated) if translated else None)
        return [done[d.id] if d.id in done else router.skipped[d.id] for d in docs]

    def unit_counts(self) -> dict[str, int]:
        """The translation stage's units (the summaries' translation is not counted)."""
        return self.router.counts.to_dict()

    def describe(self) -> dict[str, Any]:
        return {"task": "pipeline", "order": self.job.order, "translation": self.router.describe(),
                "summary_lang": self.job.summary_lang, "stage_models": dict(sorted(self.stages.items()))}
