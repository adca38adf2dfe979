"""Quality signals into a run's results: every sentence assessed, its record given its
confidence, flags and risk, each document a summary, the run a summary.

The run's statistics (the usual length ratio, the names kept in translation) are learned from
the results given together: a caller with a corpus too large to hold passes it a chunk (a shard)
at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.io.results import DocumentResult, SegmentRecord
from toolkit.options import QualityOptions
from toolkit.quality.checks import CHECKS, assess, counts, summarize, worst_first
from toolkit.quality.types import RISKS, Assessment, Flag, Pair, risk_rank


def pairs_of(results: Sequence[DocumentResult], glossary: Mapping[str, str] | None = None) -> list[Pair]:
    """One pair per sentence of ``results``, with what the plan knew: the protected spans it kept
    and the glossary terms it applied (a record restored from disk knows neither: its spans are
    then found in the source again), and the engine's confidence and truncation."""
    pairs = []
    for result in results:
        for position, record in enumerate(result.segments):
            terms = {**(glossary or {}), **(record.terms or {})}
            pairs.append(Pair(record.source, record.output, result.id, position, record.confidence,
                              record.truncated, terms, record.spans))
    return pairs


def annotate(results: Sequence[DocumentResult], source_lang: str, target_lang: str,
             options: QualityOptions | None = None, glossary: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Assess every sentence of ``results`` and record it in place: each SegmentRecord's
    ``confidence``/``flags``/``risk``, each DocumentResult's ``extra["quality"]`` (counts per risk
    and flag, its worst sentences' positions). Returns the run's summary (``summarize``)."""
    options = options or QualityOptions()
    pairs = pairs_of(results, glossary)
    assessments = assess(pairs, source_lang, target_lang, options)
    offset = 0
    for result in results:
        mine = assessments[offset: offset + len(result.segments)]
        for record, assessment in zip(result.segments, mine):
            record_assessment(record, assessment)
        result.extra["quality"] = document_summary(pairs[offset: offset + len(mine)], mine)
        offset += len(mine)
    return summarize(pairs, assessments)


def record_assessment(record: SegmentRecord, assessment: Assessment) -> None:
    """Write ``assessment`` into a sentence's record (its confidence is the engine's, unchanged)."""
    record.confidence = assessment.confidence
    record.flags = [{"name": f.name, "reason": f.reason} for f in assessment.flags]
    record.risk = assessment.risk


def document_summary(pairs: Sequence[Pair], assessments: Sequence[Assessment], worst: int = 10) -> dict[str, Any]:
    found = counts(assessments)
    return {**found, "worst": [pairs[i].position for i in worst_first(pairs, assessments)[:worst]
                               if assessments[i].risk != "ok"]}


# -- summaries from recorded signals (a run's manifest, a corpus's shards) ------------------------

def _severity(entry: Mapping[str, Any]) -> tuple[int, int, float]:
    confidence = entry.get("confidence")
    return risk_rank(entry["risk"]), len(entry["flags"]), -(confidence if confidence is not None else 0.0)


def worst_entries(results: Sequence[DocumentResult], worst: int = 10) -> list[dict[str, Any]]:
    """The assessed sentences of ``results`` that are not ok, worst first (risk, then number of
    flags, then low confidence; input order among equals): where they are and what they got."""
    entries = [{"doc_id": result.id, "position": position, "risk": record.risk,
                "flags": [flag["name"] for flag in record.flags or []],
                "confidence": None if record.confidence is None else round(record.confidence, 4)}
               for result in results for position, record in enumerate(result.segments)
               if record.risk is not None and record.risk != "ok"]
    return sorted(entries, key=_severity, reverse=True)[:worst]


def recorded_counts(results: Sequence[DocumentResult]) -> dict[str, Any]:
    """Counts per risk and flag of the sentences of ``results`` that were assessed (their records
    carry a risk); checks left unchecked are summed from the documents' summaries."""
    assessments = [Assessment(record.confidence, tuple(Flag(f["name"], f["reason"]) for f in record.flags or []),
                              record.risk)
                   for result in results for record in result.segments if record.risk is not None]
    found = counts(assessments)
    unchecked: dict[str, int] = {}
    for result in results:
        for name, count in (result.extra.get("quality") or {}).get("unchecked", {}).items():
            unchecked[name] = unchecked.get(name, 0) + count
    found["unchecked"] = unchecked
    acted = [record.on_risk for result in results for record in result.segments if record.on_risk is not None]
    if acted:
        found["on_risk"] = {"mode": acted[0]["action"], "sentences": len(acted),
                            "replaced": sum(bool(a.get("replaced")) for a in acted)}
    return found


def run_summary(results: Sequence[DocumentResult], worst: int = 10) -> dict[str, Any] | None:
    """A run's quality summary from what its records carry (None when nothing was assessed):
    counts per risk and flag, and its worst sentences."""
    if not any(record.risk is not None for result in results for record in result.segments):
        return None
    return {**recorded_counts(results), "worst": worst_entries(results, worst)}


def merge_summaries(summaries: Sequence[Mapping[str, Any] | None], worst: int = 10) -> dict[str, Any] | None:
    """Run summaries added up (a corpus's shards, chunk by chunk): counts summed, the worst kept."""
    present = [s for s in summaries if s]
    if not present:
        return None
    total: dict[str, Any] = {"sentences": 0, "risk": {r: 0 for r in RISKS}, "flags": {n: 0 for n in CHECKS},
                             "unchecked": {}}
    entries: list[Mapping[str, Any]] = []
    for summary in present:
        total["sentences"] += summary.get("sentences", 0)
        for key in ("risk", "flags", "unchecked"):
            for name, count in summary.get(key, {}).items():
                total[key][name] = total[key].get(name, 0) + count
        entries += summary.get("worst", [])
        if "on_risk" in summary:
            acted = total.setdefault("on_risk", {"mode": summary["on_risk"]["mode"], "sentences": 0, "replaced": 0})
            acted["sentences"] += summary["on_risk"]["sentences"]
            acted["replaced"] += summary["on_risk"]["replaced"]
    # stable: earlier shards first among equals
    total["worst"] = [dict(e) for e in sorted(entries, key=_severity, reverse=True)[:worst]]
    return total


def recorded_document_summary(result: DocumentResult, worst: int = 10) -> dict[str, Any] | None:
    """A document's ``extra["quality"]`` from its records (a structured file, whose sentences were
    assessed block batch by block batch), or None when none was assessed."""
    if not any(record.risk is not None for record in result.segments):
        return None
    return {**recorded_counts([result]), "worst": [e["position"] for e in worst_entries([result], worst)]}
