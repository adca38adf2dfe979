"""Reviewing translations from any system: read aligned sources and outputs, assess them.

The inputs are read and aligned as ``toolkit evaluate`` reads them (toolkit/evaluation/data.py):
a translate run folder, JSONL (``doc_id``/``segment``, ``source``, ``output``/``translation``/…)
or plain text, one segment per line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import InputError
from toolkit.options import QualityOptions
from toolkit.quality.checks import assess, summarize, worst_first
from toolkit.quality.types import Assessment, Pair


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


def _run_signals(folder: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """A translate run's recorded confidence and truncation per (document, sentence), where the
    manifest holds them (text runs; corpus runs keep segments in their details files)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    signals: dict[tuple[str, int], dict[str, Any]] = {}
    documents = manifest.get("documents") if isinstance(manifest, dict) else None
    for doc in documents if isinstance(documents, list) else []:
        for index, segment in enumerate(doc.get("segments") or []):
            if isinstance(segment, dict) and isinstance(segment.get("confidence"), (int, float)):
                signals[(str(doc.get("id")), index)] = {"confidence": float(segment["confidence"])}
    return signals


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
    signals = _run_signals(Path(hyp)) if Path(hyp).is_dir() else {}
    pairs = [Pair(s, o, doc_id, position, confidence=signals.get((doc_id, position), {}).get("confidence"),
                  glossary=dict(glossary or {}))
             for (doc_id, position), s, o in zip(keys, sources, outputs)]
    return Review(pairs, assess(pairs, source, target, options), source, target, {"hyp": hyp, "src": src},
                  target_from)
