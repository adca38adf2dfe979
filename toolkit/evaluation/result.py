"""What an evaluation returns: typed records whose ``to_dict()`` is the JSON of ``toolkit evaluate
--json`` and of ``scores.json`` (key for key, in the same order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAIRED_TESTS = ("paired bootstrap resampling and approximate randomization as sacrebleu (--paired-bs, --paired-ar), "
                "ties counted as extreme")


@dataclass(frozen=True, slots=True)
class Score:
    """A corpus score with its bootstrap confidence interval and its signature."""

    metric: str
    score: float
    ci_low: float
    ci_high: float
    signature: str
    higher_is_better: bool

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "score": self.score, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "signature": self.signature, "higher_is_better": self.higher_is_better}


@dataclass(frozen=True, slots=True)
class Comparison:
    """The paired difference system − baseline on one metric, its CI and p-values."""

    metric: str
    system: float
    baseline: float
    delta: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    p_randomization: float
    system_better: bool

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "system": self.system, "baseline": self.baseline, "delta": self.delta,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "p_bootstrap": self.p_bootstrap,
                "p_randomization": self.p_randomization, "system_better": self.system_better}


@dataclass(slots=True)
class BaselineResult:
    scores: list[Score]
    comparison: list[Comparison]
    tests: str = PAIRED_TESTS
    path: str | None = None  # the baseline's file or run folder, when it came from one

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scores": [s.to_dict() for s in self.scores],
                               "comparison": [c.to_dict() for c in self.comparison], "tests": self.tests}
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass(frozen=True, slots=True)
class SegmentScore:
    """Segment-level chrF of one translated segment."""

    doc_id: str
    segment: int
    chrf: float
    hypothesis: str

    def to_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "segment": self.segment, "chrf": self.chrf, "hypothesis": self.hypothesis}


@dataclass(frozen=True, slots=True)
class Bootstrap:
    resamples: int
    seed: int
    confidence: float = 0.95
    method: str = "percentile"

    def to_dict(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "seed": self.seed, "confidence": self.confidence, "method": self.method}


@dataclass
class EvaluationResult:
    """Every corpus score with its CI and signature; with a baseline, its scores and the paired
    comparison; for translation, segment-level chrF; from files, the paths scored.

    ``result["scores"]`` (and ``"baseline" in result``) read like ``result.to_dict()``, for scripts
    written when ``evaluate`` returned that dict."""

    task: str
    lang: str
    segments_count: int
    documents_count: int
    unit: str  # segment (translation) | document (summarization)
    bootstrap: Bootstrap
    scores: list[Score] = field(default_factory=list)
    baseline: BaselineResult | None = None
    segments: list[SegmentScore] | None = None
    hyp: str | None = None
    ref: list[str] | None = None

    def score(self, metric: str) -> Score:
        """The score of one metric by its reported name (``BLEU``, ``chrF++``, ``ROUGE-L``)."""
        for score in self.scores:
            if score.metric == metric:
                return score
        raise KeyError(metric)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, "lang": self.lang, "segments_count": self.segments_count,
                               "documents_count": self.documents_count, "unit": self.unit,
                               "bootstrap": self.bootstrap.to_dict(), "scores": [s.to_dict() for s in self.scores]}
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict()
        if self.segments is not None:
            out["segments"] = [s.to_dict() for s in self.segments]
        if self.hyp is not None:
            out["hyp"] = self.hyp
        if self.ref is not None:
            out["ref"] = list(self.ref)
        return out

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS or getattr(self, key) is None:
            raise KeyError(key)
        return _plain(getattr(self, key))

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS and getattr(self, str(key)) is not None


_FIELDS = frozenset(EvaluationResult.__dataclass_fields__)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value
