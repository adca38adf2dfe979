"""What the checks say about a translated sentence: flags, confidence, risk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Ordered: each level is worse than the one before it.
RISKS = ("ok", "review", "likely-wrong")


@dataclass(frozen=True)
class Flag:
    """One check that failed: its stable name and a short reason a person can act on."""

    name: str
    reason: str


@dataclass(frozen=True)
class Pair:
    """A source sentence and its translation, with what is known about how it was made.

    ``glossary`` maps source terms to the target terms they must become (a kept term maps to
    itself); ``protected`` are spans that must appear verbatim; ``hit_length_limit`` and
    ``confidence`` come from the engine, when it is known."""

    source: str
    output: str
    doc_id: str = ""
    position: int = 0  # the sentence's index in its document
    confidence: float | None = None
    hit_length_limit: bool | None = None
    glossary: Mapping[str, str] = field(default_factory=dict)
    protected: Sequence[str] | None = None  # None: the URLs, e-mails, paths … found in the source


@dataclass(frozen=True)
class Skipped:
    """A check that could not judge this pair, and why (e.g. too short to identify its language)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Languages:
    source: str
    target: str


@dataclass(frozen=True)
class Assessment:
    confidence: float | None
    flags: tuple[Flag, ...]
    risk: str
    unchecked: tuple[Skipped, ...] = ()  # checks that could not judge this pair

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": None if self.confidence is None else round(self.confidence, 4),
                "flags": [{"name": f.name, "reason": f.reason} for f in self.flags], "risk": self.risk,
                "unchecked": [{"name": s.name, "reason": s.reason} for s in self.unchecked]}


def risk_rank(risk: str) -> int:
    return RISKS.index(risk)
