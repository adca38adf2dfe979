"""Reviewing translations from any system: read aligned sources and outputs, assess them.

The inputs are read and aligned as ``toolkit evaluate`` reads them (toolkit/evaluation/data.py):
a translate run folder, JSONL (``doc_id``/``segment``, ``source``, ``output``/``translation``/…)
or plain text, one segment per line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from toolkit.errors import InputError
from toolkit.options import QualityOptions
from toolkit.quality.checks import assess, summarize, worst_first
from toolkit.quality.risk import risk
from toolkit.quality.types import Assessment, Flag, Pair


@dataclass
class Review:
    pairs: list[Pair]
    assessments: list[Assessment]
    source_lang: str
    target_lang: str
    inputs: dict[str, str | None] = field(default_factory=dict)
    target_lang_from: str = "given"  # given | run (the run's manifest) | default (the configured target)

    def summary(self, worst: int = 10) -> dict[str, Any]:
        return {"source_lang": self.source_lang, "target_lang": self.target_lang,
                "target_lang_from": self.target_lang_from, **self.inputs,
                **summarize(self.pairs, self.assessments, worst)}

    def records(self) -> list[dict[str, Any]]:
        """One record per pair, in input order (``review.jsonl``)."""
        return [{"doc_id": p.doc_id, "position": p.position, "source": p.source, "output": p.output,
                 **a.to_dict()} for p, a in zip(self.pairs, self.assessments)]

    def worst_first(self) -> list[int]:
        return worst_first(self.pairs, self.assessments)


def recorded_signals(segments: Any) -> dict[tuple[str, int], dict[str, Any]]:
    """A translate run's recorded confidence, truncation and flags per (document, sentence): its
    manifest's segments (text runs) or its details files (corpus runs), as load_segments read them."""
    if segments.signals is None or segments.keys is None:
        return {}
    return {key: signal for key, signal in zip(segments.keys, segments.signals) if signal}


def with_recorded_flags(assessment: Assessment, signal: Mapping[str, Any], options: QualityOptions) -> Assessment:
    """``assessment`` with the flags the run recorded and review did not find again (the run knew
    the protected spans and glossary terms of its plan, and learned its statistics per chunk), and
    the risk they add up to."""
    names = {flag.name for flag in assessment.flags}
    extra = [Flag(name, reason) for name, reason in signal.get("flags", []) if name not in names]
    if not extra:
        return assessment
    flags = (*assessment.flags, *extra)
    return replace(assessment, flags=flags, risk=risk(flags, assessment.confidence, options))


def _language(texts: Sequence[str]) -> str:
    from toolkit.text.detect import identify

    return identify("\n".join(texts[:200]))[0]


def review_paths(hyp: str, src: str | None = None, source_lang: str | None = None, target_lang: str | None = None,
                 options: QualityOptions | None = None, glossary: Mapping[str, str] | None = None,
                 default_target_lang: str | None = None) -> Review:
    """Assess the translations in ``hyp`` against their sources (``src``, else those ``hyp``
    holds: a translate run folder or JSONL with ``source`` fields).

    The target language is ``target_lang``, else the run's (its manifest), else
    ``default_target_lang`` (the CLI passes the configured default and says so), else an error:
    it is never identified from the translations, since an untranslated output would then pass
    as written in the target language. The source language is ``source_lang``, else identified
    from the sources."""
    from toolkit.evaluation.data import align, align_sources, load_segments
    from toolkit.text.languages import check_language

    hyp_segments = load_segments(hyp, "hyp", "translation")
    if hyp_segments.task not in (None, "translation"):
        raise InputError(f"{hyp}: a {hyp_segments.task} run; review reads translations")
    if src is not None:
        keys, outputs, sources_nested = align(hyp_segments, load_segments(src, "src", "translation"))
        sources = [s[0] for s in sources_nested]
    else:
        found = align_sources(hyp_segments.keys or [("", i) for i in range(len(hyp_segments))], hyp_segments,
                              quiet=True)
        if found is None:
            raise InputError(f"{hyp}: holds no source texts; pass --src (the sources, aligned as for evaluate)")
        keys = hyp_segments.keys or [("", i) for i in range(len(hyp_segments))]
        outputs, sources = [t[0] for t in hyp_segments.texts], found
    if not keys:
        raise InputError(f"{hyp}: no segments to review")
    if target_lang:
        target, target_from = target_lang, "given"
    elif hyp_segments.lang:
        target, target_from = hyp_segments.lang, "run"
    elif default_target_lang:
        target, target_from = default_target_lang, "default"
    else:
        raise InputError(f"{hyp}: the translations' language is not recorded: pass --tgt-lang (it is not guessed "
                         "from the translations, where an untranslated output would pass)")
    target = check_language(target, "--tgt-lang")
    source = check_language(source_lang or _language(sources), "--src-lang")
    options = options or QualityOptions()
    signals = recorded_signals(hyp_segments)
    pairs = [Pair(s, o, doc_id, position, confidence=signals.get((doc_id, position), {}).get("confidence"),
                  hit_length_limit=signals.get((doc_id, position), {}).get("truncated"), glossary=dict(glossary or {}))
             for (doc_id, position), s, o in zip(keys, sources, outputs)]
    assessments = [with_recorded_flags(a, signals.get((p.doc_id, p.position), {}), options)
                   for p, a in zip(pairs, assess(pairs, source, target, options))]
    return Review(pairs, assessments, source, target, {"hyp": hyp, "src": src}, target_from)
