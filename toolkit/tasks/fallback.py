"""``--on-risk``: what a translation run does with its likely-wrong sentences, after the checks.

- ``keep``: nothing (they stay flagged);
- ``retry``: their units are decoded again with a stricter search — twice the beams (at least 4)
  and no repeated 3-gram (``no_repeat_ngram_size=3``), the model otherwise as it was;
- ``pivot``: their units go through the fallback translator given (a pivot route of the registry);
- ``source``: their source text is kept as the output, and marked.

A retried or pivoted sentence keeps its new output when it is no worse than the first — a lower
risk, or the same risk with no more flags — and its first output otherwise. Every sentence acted
on is re-assessed (with the whole batch, as the first time) and its record says what was done
(``on_risk``: action, replaced, risk and flags before, the first output when replaced)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.io.results import DocumentResult, SegmentRecord
from toolkit.options import QualityOptions
from toolkit.quality.annotate import annotate, recorded_counts, worst_entries
from toolkit.quality.types import risk_rank
from toolkit.tasks.memory import DeferredTranslator
from toolkit.tasks.translate import EngineTranslator, PivotTranslator, Plan, SentenceTranslator, UnitResults, restore

MODES = ("keep", "retry", "pivot", "source")


def retry_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The stricter search of a retry: twice the beams (at least 4), no repeated 3-gram."""
    beams = int(settings.get("num_beams", 1) or 1)
    return {"num_beams": max(4, 2 * beams), "no_repeat_ngram_size": 3, "early_stopping": True}


def retry_translator(sentences: SentenceTranslator) -> SentenceTranslator:
    """``sentences`` decoding with the retry settings (the same loaded models, hop by hop)."""
    if isinstance(sentences, DeferredTranslator):  # a retry decodes: the model is needed now
        sentences = sentences.loaded()
    if isinstance(sentences, EngineTranslator):
        engine = sentences.engine
        return EngineTranslator(engine.with_settings(retry_settings(engine.settings)), sentences.source_lang,
                                sentences.target_lang, sentences.hop)
    if isinstance(sentences, PivotTranslator):
        return PivotTranslator([retry_translator(hop) for hop in sentences.hops], sentences.route)
    raise TypeError(f"cannot retry with a {type(sentences).__name__}")


def _better_or_equal(new: SegmentRecord, old: SegmentRecord) -> bool:
    assert new.risk is not None and old.risk is not None
    return (risk_rank(new.risk), len(new.flags or [])) <= (risk_rank(old.risk), len(old.flags or []))


def act_on_risk(planned: Plan, generated: UnitResults, results: list[DocumentResult], mode: str,
                alternative: SentenceTranslator | None, source_lang: str, target_lang: str,
                quality: QualityOptions, glossary: Mapping[str, str] | None, seconds: float) -> list[DocumentResult]:
    """``results`` (assessed) with their likely-wrong sentences acted on as ``mode`` says;
    ``alternative`` translates them again (retry, pivot). The same results when none is."""
    flat = [record for result in results for record in result.segments]  # in plan sentence order
    bad = [i for i, record in enumerate(flat) if record.risk == "likely-wrong"]
    if mode == "keep" or not bad:
        return results
    wanted = set(bad)
    units = [u for u, (owner, _) in enumerate(planned.units) if owner in wanted]
    if mode == "source":
        again = [SegmentRecord(0, 0, text, text, 0, source_tokens=generated.records[u].source_tokens)
                 for u in units for text in [planned.units[u][1]]]
        more: list[tuple[int, str]] = []
    else:
        if alternative is None:
            raise ValueError(f"--on-risk {mode} needs a translator to try again with")
        again, more = alternative.translate_sentences([planned.units[u][1] for u in units])
    candidate_records = list(generated.records)
    for u, record in zip(units, again):
        candidate_records[u] = record
    replaced_units = set(units)
    kept_warnings = [(u, m) for u, m in generated.warnings if u not in replaced_units]
    new_warnings = kept_warnings + [(units[i], m) for i, m in more]
    candidate = restore(planned, UnitResults(candidate_records, sorted(new_warnings, key=lambda w: w[0])), seconds)
    annotate(candidate, source_lang, target_lang, quality, glossary)
    tried = [record for result in candidate for record in result.segments]
    take = {i for i in bad if mode == "source" or _better_or_equal(tried[i], flat[i])}
    final_records = list(generated.records)
    final_warnings = [(u, m) for u, m in generated.warnings if planned.units[u][0] not in take]
    for index, (owner, _) in enumerate(planned.units):
        if owner in take:
            final_records[index] = candidate_records[index]
    final_warnings += [(units[i], m) for i, m in more if planned.units[units[i]][0] in take]
    final = restore(planned, UnitResults(final_records, sorted(final_warnings, key=lambda w: w[0])), seconds)
    annotate(final, source_lang, target_lang, quality, glossary)
    done = [record for result in final for record in result.segments]
    for i in bad:
        first = flat[i]
        replaced = i in take and done[i].output != first.output
        action: dict[str, Any] = {"action": mode, "replaced": replaced, "risk_before": first.risk,
                                  "flags_before": [f["name"] for f in first.flags or []]}
        if replaced:
            action["output_before"] = first.output
        done[i].on_risk = action
        if mode == "source" and replaced:
            mark_kept_source(done[i])
    for result in final:
        acted = [r.on_risk for r in result.segments if r.on_risk is not None]
        if acted:
            if mode == "source":  # the marks changed its counts
                result.extra["quality"] = {**recorded_counts([result]),
                                           "worst": [e["position"] for e in worst_entries([result])]}
            result.extra["quality"]["on_risk"] = on_risk_counts(acted, mode)
    return final


KEPT_SOURCE = "its source, kept in place of a likely-wrong translation (--on-risk source)"


def mark_kept_source(record: SegmentRecord) -> None:
    """A sentence ``--on-risk source`` replaced by its source is untranslated, whatever the checks
    say of the copy (a short one may pass as language-neutral, or its words as names the run keeps):
    flagged ``untranslated`` and at least ``review``."""
    if not any(flag["name"] == "untranslated" for flag in record.flags or []):
        record.flags = [{"name": "untranslated", "reason": KEPT_SOURCE}, *(record.flags or [])]
    if record.risk == "ok":
        record.risk = "review"


def on_risk_counts(actions: Sequence[Mapping[str, Any]], mode: str) -> dict[str, Any]:
    return {"mode": mode, "sentences": len(actions), "replaced": sum(bool(a["replaced"]) for a in actions)}

