"""The checks by name, ``assess``: every check on every aligned pair of a run, and the run's summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from toolkit.options import QualityOptions
from toolkit.quality.context import Context, RunStatistics
from toolkit.quality.language import untranslated, wrong_language
from toolkit.quality.length import learn, length_ratio
from toolkit.quality.numbers import numbers
from toolkit.quality.repetition import repetition
from toolkit.quality.risk import risk
from toolkit.quality.terms import kept_names, terms
from toolkit.quality.truncated import truncated
from toolkit.quality.types import RISKS, Assessment, Flag, Languages, Pair, Skipped, risk_rank

Check = Callable[[str, str, Languages, Context], "Flag | Skipped | None"]

# Stable names (they appear in records, reports and thresholds), in the order they are reported.
CHECKS: dict[str, Check] = {
    "untranslated": untranslated,
    "wrong-language": wrong_language,
    "repetition": repetition,
    "length-ratio": length_ratio,
    "numbers": numbers,
    "terms": terms,
    "truncated": truncated,
}


def run_statistics(pairs: Sequence[Pair], options: QualityOptions) -> RunStatistics:
    median, scale = learn(pairs, options)
    return RunStatistics(len(pairs), median, scale, kept_names(pairs, options))


def assess(pairs: Sequence[Pair], source_lang: str, target_lang: str, options: QualityOptions | None = None,
           checks: Sequence[str] | None = None) -> list[Assessment]:
    """One assessment per pair, in order. The pairs are a whole run (or document set): the
    length ratio and the kept names are learned from them together."""
    options = options or QualityOptions()
    names = list(checks) if checks is not None else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        from toolkit.errors import ToolkitError

        raise ToolkitError(f"unknown check(s): {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    langs = Languages(source_lang, target_lang)
    run = run_statistics(pairs, options)
    results = []
    # A check is a function of its pair, the options and the run's statistics: identical pairs
    # (a corpus's boilerplate, deduplicated sentences) are judged once.
    judged: dict[tuple[Any, ...], Assessment] = {}
    for pair in pairs:
        key = (pair.source, pair.output, pair.confidence, pair.hit_length_limit, tuple(sorted(pair.glossary.items())),
               None if pair.protected is None else tuple(pair.protected))
        if key in judged:
            results.append(judged[key])
            continue
        context = Context(pair, options, run)
        flags: list[Flag] = []
        skipped: list[Skipped] = []
        if pair.source.strip():
            for name in names:
                verdict = CHECKS[name](pair.source, pair.output, langs, context)
                if isinstance(verdict, Flag):
                    flags.append(verdict)
                elif isinstance(verdict, Skipped):
                    skipped.append(verdict)
        judged[key] = Assessment(pair.confidence, tuple(flags), risk(flags, pair.confidence, options), tuple(skipped))
        results.append(judged[key])
    return results


def severity(assessment: Assessment) -> tuple[int, int, float]:
    """A sort key, worst first when sorted descending: risk, then flags, then low confidence."""
    confidence = assessment.confidence if assessment.confidence is not None else 0.0
    return risk_rank(assessment.risk), len(assessment.flags), -confidence


def worst_first(pairs: Sequence[Pair], assessments: Sequence[Assessment]) -> list[int]:
    """Indices of the pairs, worst first (input order among equals)."""
    return sorted(range(len(pairs)), key=lambda i: (tuple(-x for x in severity(assessments[i])), i))


def counts(assessments: Sequence[Assessment]) -> dict[str, Any]:
    """Sentences, and how many of them at each risk, with each flag, and left unchecked by each check."""
    flags: Counter[str] = Counter(f.name for a in assessments for f in a.flags)
    risks: Counter[str] = Counter(a.risk for a in assessments)
    unchecked: Counter[str] = Counter(s.name for a in assessments for s in a.unchecked)
    return {"sentences": len(assessments), "risk": {r: risks.get(r, 0) for r in RISKS},
            "flags": {name: flags.get(name, 0) for name in CHECKS},
            "unchecked": {name: count for name, count in unchecked.items()}}


def summarize(pairs: Sequence[Pair], assessments: Sequence[Assessment], worst: int = 10) -> dict[str, Any]:
    """Counts per risk and per flag for the run and for each document, and the worst sentences
    (as ``{"doc_id", "position"}``, worst first)."""
    order = worst_first(pairs, assessments)
    _counts = counts
    documents: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        documents.setdefault(pair.doc_id, []).append(index)
    per_document = []
    for doc_id, indices in documents.items():
        ranked = [i for i in order if i in set(indices)]
        per_document.append({"doc_id": doc_id, **_counts([assessments[i] for i in indices]),
                             "worst": [pairs[i].position for i in ranked[:worst] if assessments[i].risk != "ok"]})
    return {**_counts(assessments),
            "worst": [{"doc_id": pairs[i].doc_id, "position": pairs[i].position} for i in order[:worst]
                      if assessments[i].risk != "ok"],
            "documents": per_document}
