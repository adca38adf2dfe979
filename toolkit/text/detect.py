"""Offline language identification (py3langid ships its own model), per document and per paragraph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

# Paragraphs shorter than this (in letters) are too short to identify reliably: bylines, datelines.
MIN_LETTERS = 25
# A paragraph counts towards a mixed-language verdict only when identified at least this surely.
CONFIDENT = 0.6


def _decompressed_model(source: Path) -> Path:
    """py3langid's model, an LZMA-compressed npz, decompressed once into the toolkit cache:
    decompressing it took 0.4-0.7 s of every run that detects a language, reading the plain npz
    takes ~0.05 s. The name changes with the shipped file, so an upgrade decompresses again."""
    import lzma
    import os
    import shutil

    from toolkit.config import toolkit_cache

    stat = source.stat()
    target = toolkit_cache() / "langid" / f"{source.name.removesuffix('.xz')}-{stat.st_size}-{stat.st_mtime_ns}.npz"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        try:
            with lzma.open(source) as compressed, partial.open("wb") as plain:
                shutil.copyfileobj(compressed, plain, length=1 << 20)
            os.replace(partial, target)  # whole or absent, even with runs side by side
        finally:
            partial.unlink(missing_ok=True)
    return target


def _typed_array(values: Any) -> Any:
    """A numpy integer array as the stdlib ``array`` py3langid's tokenizer indexes."""
    from array import array

    import numpy as np

    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(np.ascontiguousarray(values).data.cast("B"))
    return out


def _load_identifier() -> Any:
    """py3langid's LanguageIdentifier with normalised probabilities, from the decompressed cache
    copy of its model; where that cannot be used (a read-only cache, another model layout), as
    py3langid loads it itself. The arrays are read as py3langid's own ``load_model`` reads them."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    source = MODEL_DIR / MODEL_FILE
    if source.name.endswith(".npz.xz"):
        try:
            with np.load(_decompressed_model(source), allow_pickle=False) as data:
                return LanguageIdentifier(np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                                          _typed_array(data["nextmove"]), data["out_feat"].tolist(), norm_probs=True,
                                          tk_row=_typed_array(data["nextmove_row"]))
        except (OSError, KeyError, ValueError, TypeError):
            pass
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=4)
def _identifier(candidates: frozenset[str] | None = None) -> Any:
    from toolkit.text.languages import ISO_639_1

    identifier = _load_identifier()
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
