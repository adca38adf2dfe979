"""What the server offers: translation pairs and summarisers, and how each is loaded.

Named on the command line (``--translator fr-en=MODEL``, ``--summarizer en=MODEL``), or else
found offline: every pair the model registry can route using only models already in the local
Hugging Face cache (one hop or a pivot through English), and the configured default summariser of
each language whose model is cached. Nothing is downloaded and nothing is loaded here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError
from toolkit.serve.models import Decoded, ModelKey, ServedModel
from toolkit.serve.settings import ServeSettings
from toolkit.text.languages import ISO_639_1

if TYPE_CHECKING:
    from toolkit.tasks.translate import Translator


@dataclass
class Catalog:
    settings: ServeSettings
    pairs: dict[str, str | None] = field(default_factory=dict)  # "fr-en" -> model, or None: the registry's route
    summarizers: dict[str, str] = field(default_factory=dict)  # lang (or "*") -> model
    registry: Any = None  # the registry routes are resolved with (without --translator: cached models only)
    pinned: dict[str, str] = field(default_factory=dict)

    def languages(self) -> list[dict[str, Any]]:
        """LibreTranslate's ``/languages``: every language served, with its targets."""
        targets: dict[str, list[str]] = {}
        for pair in self.pairs:
            src, tgt = pair.split("-")
            targets.setdefault(src, []).append(tgt)
            targets.setdefault(tgt, [])
        return [{"code": code, "name": ISO_639_1[code], "targets": sorted(targets[code])} for code in sorted(targets)]

    def codes(self) -> frozenset[str]:
        return frozenset(code for pair in self.pairs for code in pair.split("-"))

    def summarizer_for(self, lang: str) -> str | None:
        return self.summarizers.get(lang) or self.summarizers.get("*")

    def load(self, key: ModelKey) -> ServedModel:
        """Load the model behind ``key`` (called in a thread by the pool)."""
        if key.task == "translation":
            return self._load_translator(key.name)
        return self._load_summarizer(key.name)

    def _load_translator(self, pair: str) -> ServedModel:
        from toolkit.config import resolve_engine
        from toolkit.tasks.translate import load_translator

        settings = self.settings
        src, tgt = pair.split("-")
        # One dispatch of the batcher is one engine batch.
        engine = resolve_engine("translation", settings.engine.replace(batch_size=settings.max_batch_size,
                                                                       max_batch_tokens=settings.max_batch_tokens))
        generation = settings.generation
        translator = load_translator(self.pairs[pair], src, tgt, self.registry, settings.allow_pivot, self.pinned,
                                     engine, generation)
        return ServedModel(translator, _generate)

    def _load_summarizer(self, lang: str) -> ServedModel:
        from toolkit.config import resolve_engine
        from toolkit.tasks.summarize import load_summarizer

        settings = self.settings
        model = self.summarizer_for(lang)
        # Per-request lengths are applied at call time (_summarize), not part of the model key.
        engine = resolve_engine("summarization", settings.engine)
        return ServedModel(load_summarizer(model, lang, engine, settings.generation), _summarize)

    def is_extractive(self, lang: str) -> bool:
        from toolkit.tasks.summarize import EXTRACTIVE

        model = self.summarizer_for(lang) or ""
        return bool(EXTRACTIVE.match(model.lower())) and not Path(model).exists()

    def check_references(self) -> None:
        """Every model named with --translator/--summarizer exists (a folder with a config.json)
        or, offline, is in the local cache: one line at start, not a 500 on every request.
        Nothing is loaded; a hub id not cached is fetched on first use when the hub is reachable."""
        named = [(f"--translator {pair}={model}", model) for pair, model in self.settings.translators.items()]
        named += [(f"--summarizer {'' if lang == '*' else lang + '='}{model}", model)
                  for lang, model in self.settings.summarizers.items()]
        for option, model in named:
            check_reference(option, model)


def check_reference(option: str, model: str) -> None:
    from toolkit.models.hub import hub_offline, looks_like_path, resolve_model
    from toolkit.tasks.summarize import EXTRACTIVE

    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ToolkitError(f"{option}: not a model directory (no config.json)")
        return
    if EXTRACTIVE.match(model.lower()) and option.startswith("--summarizer"):
        return
    if not path.exists() and not looks_like_path(model) and not hub_offline():
        return  # a hub id: downloaded into the cache on first use
    try:
        resolve_model(model, allow_download=False)
    except ToolkitError as exc:
        raise ToolkitError(f"{option}: {exc}") from None


def _summarize(model: Any, payloads: list[tuple[str, tuple[tuple[str, Any], ...]]]) -> Decoded:
    """Documents in (text, generation options: equal within a batch), one summary each. The
    options apply to this call only: the engine's settings are put back afterwards (this runs in
    the one worker thread that touches the model)."""
    from toolkit.io.documents import Document

    docs = [Document(id=f"request-{i}", text=text, source="http") for i, (text, _) in enumerate(payloads)]
    options = dict(payloads[0][1]) if payloads else {}
    engine = getattr(model, "engine", None)
    if not options or engine is None:
        results = model.summarize_documents(docs)
    else:
        from types import SimpleNamespace

        from toolkit.engines.base import generation_settings

        saved = engine.settings, getattr(engine, "decoding", None)
        # The loaded settings stand in for the model's config: the request's options are applied
        # on top by the same rule as at load time (max_length clips min_length, and so on).
        engine.settings, _ = generation_settings(SimpleNamespace(**saved[0]), options)
        if saved[1] is not None:  # CTranslate2 keeps the settings translated to its own options
            from toolkit.engines.ct2 import decoding_options

            engine.decoding = decoding_options(engine.settings, engine.forced_eos)
        try:
            results = model.summarize_documents(docs)
        finally:
            engine.settings = saved[0]
            if saved[1] is not None:
                engine.decoding = saved[1]
    return Decoded([r.output for r in results], sum(r.source_tokens for r in results),
                   sum(r.output_tokens for r in results))


    def is_extractive(self, lang: str) -> bool:
        from toolkit.tasks.summarize import EXTRACTIVE

        model = self.summarizer_for(lang) or ""
        return bool(EXTRACTIVE.match(model.lower())) and not Path(model).exists()


def _generate(model: Translator, units: list[Any]) -> Decoded:
    """The generate step of the library's document path for one batch of units (the texts of
    planned sentences, from any number of requests): one (record, warnings) per unit. Units asking
    for alternatives come as (text, hypotheses) in batches of their own (the batcher's group): one
    list of hypotheses each, searched apart from every translation, never from or into the memory."""
    from toolkit.tasks.translate import UnitResults

    if units and isinstance(units[0], tuple):
        count = units[0][1]
        return Decoded(model.generator.translate_hypotheses([text for text, _ in units], count), 0, 0)
    before = model.counts.decoded
    records, warnings = model.generator.translate_sentences(units)  # through its memory (#29)
    decoded = model.counts.decoded - before
    return Decoded(UnitResults(records, warnings).split(), sum(r.source_tokens for r in records),
                   sum(r.output_tokens for r in records), reused=len(units) - decoded, decoded=decoded)


def build_catalog(settings: ServeSettings) -> Catalog:
    from toolkit.config import load_defaults
    from toolkit.models.registry import load_registry

    catalog = Catalog(settings)
    # As for `toolkit translate`: pairs pinned in the defaults (toolkit/data/defaults.yaml) refine the shipped registry.
    catalog.registry = load_registry(settings.registry) if settings.registry else load_registry()
    catalog.pinned = {} if settings.registry else dict(load_defaults().translation.models)
    if settings.translators:
        catalog.pairs = dict(settings.translators)
    else:
        catalog.registry, catalog.pinned = cached_routes(catalog.registry, catalog.pinned)
        catalog.pairs = {pair: None for pair in routable_pairs(catalog.registry, catalog.pinned, settings.allow_pivot)}
    catalog.summarizers = dict(settings.summarizers) if settings.summarizers else cached_summarizers()
    catalog.check_references()
    if not catalog.pairs and not catalog.summarizers:
        raise ToolkitError("no model to serve: nothing in the local Hugging Face cache is in the registry; pass "
                           "--translator SRC-TGT=MODEL (a hub id or a local folder), or run `toolkit models download "
                           "Helsinki-NLP/opus-mt-fr-en` first")
    return catalog


def _available(model: str, cached: set[str]) -> bool:
    return model in cached or Path(model).expanduser().is_dir()


def cached_routes(registry: Any, pinned: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The registry and pinned pairs cut down to the models in the local cache (or local folders)."""
    from toolkit.models.hub import cached_models
    from toolkit.models.registry import Entry

    cached = {row["model"] for row in cached_models()}
    entries = []
    for entry in registry.models:
        if "{src}" in entry.id or "{tgt}" in entry.id:
            pairs = [p for p in entry.pairs if _available(entry.model_id(*p.split("-")), cached)]
            if pairs:
                entries.append(Entry(**{**entry.model_dump(), "pairs": pairs}))
        elif _available(entry.id, cached):
            entries.append(entry)
    return (registry.model_copy(update={"models": entries}),
            {pair: model for pair, model in pinned.items() if _available(model, cached)})


def routable_pairs(registry: Any, pinned: dict[str, str], allow_pivot: bool) -> list[str]:
    """Every pair the registry can route (pure and offline: a few hundred milliseconds)."""
    from toolkit.models.registry import routable_sources

    sources = {tgt: routable_sources(tgt, registry, allow_pivot, pinned) for tgt in ISO_639_1}
    return [f"{src}-{tgt}" for src in ISO_639_1 for tgt in ISO_639_1 if src in sources[tgt]]


def cached_summarizers() -> dict[str, str]:
    from toolkit.config import load_defaults
    from toolkit.models.hub import cached_models

    cached = {row["model"] for row in cached_models()}
    return {lang: model for lang, model in load_defaults().summarization.models.items() if _available(model, cached)}
