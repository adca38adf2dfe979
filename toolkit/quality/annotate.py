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
from toolkit.quality.checks import assess, counts, summarize, worst_first
from toolkit.quality.types import Assessment, Pair


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
