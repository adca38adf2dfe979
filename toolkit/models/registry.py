"""Model resolution: a language pair → a route of one or two translation models (pure, offline).

Kinds: *direct* models for one pair (opus-mt-fr-en); *multi-target* models that need a target
token at the start of the source (opus-mt-en-ROMANCE: ``>>fr<<``); *many-to-many* models that need
source and target language codes (NLLB-200: ``fra_Latn``); and a *pivot* through English when no
single model covers the pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from toolkit.config import Strict, load_yaml_model, packaged
from toolkit.errors import RouteError, ToolkitError
from toolkit.text.languages import ISO_639_1, check_language, iso3, nllb

Kind = Literal["direct", "multi-target", "many-to-many"]
Preference = Literal["direct", "multi-target", "many-to-many", "pivot"]


class Entry(Strict):
    id: str
    kind: Kind
    pairs: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    target_token: str | None = None  # multi-target: ">>{tgt}<<" or ">>{tgt3}<<"
    codes: Literal["iso1", "iso3", "nllb", "m2m100"] = "iso1"  # many-to-many language code style
    languages: Literal["all"] | list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> Entry:
        if self.kind == "multi-target" and not self.target_token:
            raise ValueError("a multi-target model needs 'target_token'")
        if "{src}" in self.id and not self.pairs:
            raise ValueError("an id with {src}/{tgt} needs 'pairs'")
        return self

    def covers(self, src: str, tgt: str) -> bool:
        if self.kind == "many-to-many":
            langs = set(ISO_639_1) if self.languages == "all" else set(self.languages)
            return src in langs and tgt in langs
        if self.pairs:
            return f"{src}-{tgt}" in self.pairs
        return src in self.sources and tgt in self.targets

    def model_id(self, src: str, tgt: str) -> str:
        return self.id.format(src=src, tgt=tgt)

    def code(self, lang: str) -> str:
        return {"iso1": lang, "iso3": iso3(lang), "nllb": nllb(lang), "m2m100": f"__{lang}__"}[self.codes]


DEFAULT_PREFERENCES: tuple[Preference, ...] = ("direct", "multi-target", "pivot", "many-to-many")


class Registry(Strict):
    pivot: str = "en"
    preferences: list[Preference] = Field(default_factory=lambda: list(DEFAULT_PREFERENCES))
    models: list[Entry] = Field(default_factory=list)


def load_registry(path: Path | None = None) -> Registry:
    return load_yaml_model(path or packaged("models.yaml"), Registry)


@dataclass
class Hop:
    model: str
    src: str
    tgt: str
    kind: str  # direct | multi-target | many-to-many | explicit
    source_prefix: str = ""  # prepended to every source segment (multi-target token)
    src_code: str | None = None  # many-to-many: tokenizer.src_lang
    tgt_code: str | None = None  # many-to-many: forced first target token


@dataclass
class Route:
    src: str
    tgt: str
    kind: str  # direct | multi-target | many-to-many | pivot | explicit
    hops: list[Hop] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _single_hop(src: str, tgt: str, registry: Registry, pinned: dict[str, str], kinds: Sequence[str]) -> Hop | None:
    if f"{src}-{tgt}" in pinned:
        return Hop(pinned[f"{src}-{tgt}"], src, tgt, "direct")
    for kind in kinds:
        for entry in registry.models:
            if entry.kind != kind or not entry.covers(src, tgt):
                continue
            if kind == "multi-target":
                token = entry.target_token.format(tgt=tgt, tgt3=iso3(tgt))  # type: ignore[union-attr]
                return Hop(entry.model_id(src, tgt), src, tgt, kind, source_prefix=f"{token} ")
            if kind == "many-to-many":
                return Hop(entry.model_id(src, tgt), src, tgt, kind, src_code=entry.code(src), tgt_code=entry.code(tgt))
            return Hop(entry.model_id(src, tgt), src, tgt, kind)
    return None


def resolve_route(src: str, tgt: str, registry: Registry | None = None, allow_pivot: bool = True,
                  pinned: dict[str, str] | None = None) -> Route:
    """The route for ``src`` → ``tgt`` (any ISO 639-1/3 or NLLB code). Raises ToolkitError when
    the codes are unknown, equal, or no route exists."""
    try:
        src, tgt = check_language(src, "--src"), check_language(tgt, "--tgt")
    except ToolkitError as exc:
        raise RouteError(str(exc)) from None
    if src == tgt:
        raise RouteError(f"--src and --tgt are the same language ({src}): nothing to translate")
    registry = registry or load_registry()
    pinned = pinned or {}
    if f"{src}-{tgt}" in pinned:
        return Route(src, tgt, "direct", [Hop(pinned[f"{src}-{tgt}"], src, tgt, "direct")])
    pivot = registry.pivot
    refused: tuple[Hop, Hop] | None = None
    for position, preference in enumerate(registry.preferences):
        if preference != "pivot":
            hop = _single_hop(src, tgt, registry, {}, [preference])
            if hop is not None:
                return Route(src, tgt, hop.kind, [hop])
            continue
        if pivot in (src, tgt):
            continue
        # Each hop may use the kinds preferred over pivoting.
        kinds = [k for k in registry.preferences[:position]]
        first = _single_hop(src, pivot, registry, pinned, kinds)
        second = _single_hop(pivot, tgt, registry, pinned, kinds)
        if first and second:
            if allow_pivot:
                return Route(src, tgt, "pivot", [first, second])
            refused = (first, second)
    if refused:
        raise RouteError(f"no single model for {src}→{tgt} (a pivot through {pivot} exists: {refused[0].model} "
                           f"then {refused[1].model}; drop --no-pivot to use it)")
    raise RouteError(f"no translation model for {src}→{tgt} in the registry, directly or through {pivot}; "
                       "pass --model or a registry of your own (--registry)")


def pivot_route(src: str, tgt: str, registry: Registry, pinned: dict[str, str] | None = None) -> Route | None:
    """A route through the registry's pivot language (each hop by any kind but pivoting), or None
    when there is none (``--on-risk pivot``: a second opinion for a sentence the first route got wrong)."""
    pivot = registry.pivot
    if pivot in (src, tgt):
        return None
    kinds = [k for k in registry.preferences if k != "pivot"]
    first = _single_hop(src, pivot, registry, pinned or {}, kinds)
    second = _single_hop(pivot, tgt, registry, pinned or {}, kinds)
    return Route(src, tgt, "pivot", [first, second]) if first and second else None


def hop_for_model(model: str, src: str, tgt: str, registry: Registry) -> Hop:
    """The hop for a model named explicitly (--model): a registry entry for that id supplies the
    target token or language codes a multi-target or many-to-many model needs."""
    for entry in registry.models:
        if entry.kind == "direct" or entry.id != model or not entry.covers(src, tgt):
            continue
        if entry.kind == "multi-target":
            token = entry.target_token.format(tgt=tgt, tgt3=iso3(tgt))  # type: ignore[union-attr]
            return Hop(model, src, tgt, "multi-target", source_prefix=f"{token} ")
        return Hop(model, src, tgt, "many-to-many", src_code=entry.code(src), tgt_code=entry.code(tgt))
    return Hop(model, src, tgt, "explicit")


def routable_sources(tgt: str, registry: Registry, allow_pivot: bool = True,
                     pinned: dict[str, str] | None = None) -> frozenset[str]:
    """Every language with a route to ``tgt`` (no model is loaded or downloaded)."""
    routable = set()
    for lang in ISO_639_1:
        if lang == tgt:
            continue
        try:
            resolve_route(lang, tgt, registry, allow_pivot, pinned)
        except ToolkitError:
            continue
        routable.add(lang)
    return frozenset(routable)
