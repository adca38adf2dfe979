"""Each system's flag rates: the share of its translated sentences that each check of
toolkit.quality flags, and the share at each risk level, next to its scores and speed.

They need no reference: every translation a system produced is assessed, as ``toolkit review``
would assess it (same checks, thresholds from the configured defaults)."""

from __future__ import annotations

from typing import Any

from toolkit.options import QualityOptions
from toolkit.quality import CHECKS, RISKS, Pair, assess


def flag_rates(result: dict[str, Any], source_lang: str, target_lang: str,
               options: QualityOptions | None = None) -> dict[str, Any] | None:
    """``{"sentences", "flags": {check: share}, "risk": {level: share}, "counts": {...}}`` for
    the translations of one system run; None when the run translated nothing (a summariser)."""
    pairs: list[Pair] = []
    for doc_id in result.get("doc_order", []):
        document = result["documents"][doc_id]
        outputs = document.get("translation")
        if outputs is None:
            return None
        sources = document.get("translation_sources") or []
        if len(sources) != len(outputs):
            return None  # a cached run from before the sources were recorded
        pairs.extend(Pair(s, o, doc_id, i) for i, (s, o) in enumerate(zip(sources, outputs)))
    if not pairs:
        return None
    assessments = assess(pairs, source_lang, target_lang, options)
    flags = {name: sum(any(f.name == name for f in a.flags) for a in assessments) for name in CHECKS}
    risks = {level: sum(a.risk == level for a in assessments) for level in RISKS}
    total = len(assessments)
    return {"sentences": total, "flags": {name: count / total for name, count in flags.items()},
            "risk": {level: count / total for level, count in risks.items()},
            "counts": {"flags": flags, "risk": risks}}
