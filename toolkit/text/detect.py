"""Offline language identification (py3langid ships its own model), per document and per paragraph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

# Paragraphs shorter than this (in letters) are too short to identify reliably: bylines, datelines.
MIN_LETTERS = 25
# A paragraph counts towards a mixed-language verdict only when identified at least this surely.
CONFIDENT = 0.6


@lru_cache(maxsize=4)
def _identifier(candidates: frozenset[str] | None = None) -> Any:
    from toolkit.text.langid_model import load_identifier
    from toolkit.text.languages import ISO_639_1

    identifier = load_identifier()
    # Only languages the toolkit can name and route: py3langid's extra labels (e.g. "wuu" for
    # Wu Chinese) would otherwise win on short standard Chinese text.
    allowed = [lang for lang in identifier.nb_classes if lang in ISO_639_1 and (candidates is None or lang in candidates)]
    identifier.set_languages(allowed or [lang for lang in identifier.nb_classes if lang in ISO_639_1])
    return identifier


def identify(text: str, candidates: frozenset[str] | None = None) -> tuple[str, float]:
    """(ISO 639-1 code, probability) for ``text``, among ``candidates`` when given."""
    lang, probability = _identifier(candidates).classify(text)
    return str(lang), float(probability)


@dataclass
class Detection:
    lang: str
    confidence: float
    paragraphs: list[dict[str, Any]] = field(default_factory=list)  # line, lang, confidence, letters
    mixed: bool = False
    languages: dict[str, float] = field(default_factory=dict)  # share of letters per confident language

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def detect(text: str, candidates: frozenset[str] | None = None) -> Detection:
    """The document's language, and each paragraph's (non-blank lines with enough letters).

    A document is *mixed* when confidently identified paragraphs of a second language hold at
    least 20% of the letters."""
    lang, confidence = identify(text, candidates)
    paragraphs = []
    shares: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        letters = _letters(line)
        if letters < MIN_LETTERS:
            continue
        p_lang, p_conf = identify(line, candidates)
        paragraphs.append({"line": number, "lang": p_lang, "confidence": round(p_conf, 4), "letters": letters})
        if p_conf >= CONFIDENT:
            shares[p_lang] = shares.get(p_lang, 0) + letters
    total = sum(shares.values()) or 1
    fractions = {k: round(v / total, 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    mixed = len([f for f in fractions.values() if f >= 0.2]) > 1
    return Detection(lang, round(confidence, 4), paragraphs, mixed, fractions)


def ranked(text: str, candidates: frozenset[str] | None = None, limit: int = 5) -> list[tuple[str, float]]:
    """The ``limit`` likeliest languages for ``text``, best first, with their probabilities."""
    return [(str(lang), float(probability)) for lang, probability in _identifier(candidates).rank(text)[:limit]]
