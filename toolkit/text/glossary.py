"""Glossary terms (``--glossary terms.tsv``) and terms kept as they are (``--keep TERM``).

Placeholder and restore, made model-proof: each occurrence of a term in a sentence's text becomes
a placeholder, a protected piece the model never sees (the text on either side is translated
without it), and the placeholder is restored as the term's target, or as the term itself for a
kept term. Whatever the model emits, each occurrence yields its target at that place.

Matching is case-sensitive on whole words (no letter or digit on either side, except next to CJK
characters), longest term first; a lower-case term also matches with a capital first letter
(sentence start), and its target is then capitalised too. Terms inside protected spans (URLs,
code) are left alone. Limits: the target takes the source term's place, so word order, articles,
inflection and agreement around it are not adapted, and the text on either side of a term loses
it as context.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ConfigError
from toolkit.text.protect import Piece
from toolkit.text.segment import is_cjk


@dataclass
class Glossary:
    """Source term → target term (a kept term maps to itself); ``counts`` tallies applications."""

    entries: dict[str, str]
    source: str | None = None
    digest: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        variants: dict[str, tuple[str, str]] = {}
        for term, target in self.entries.items():
            variants[term] = (term, target)
            if term[:1].islower():
                variants.setdefault(term[0].upper() + term[1:], (term, target[:1].upper() + target[1:]))
        self._variants = variants
        alternatives = [self._bounded(v) for v in sorted(variants, key=len, reverse=True)]
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    @staticmethod
    def _bounded(term: str) -> str:
        before = "" if is_cjk(term[0]) else r"(?<![^\W_])"
        after = "" if is_cjk(term[-1]) else r"(?![^\W_])"
        return before + re.escape(term) + after

    def apply(self, parts: Sequence[Piece]) -> tuple[list[Piece], Counter[str]]:
        """``parts`` with every term occurrence in a text piece turned into a placeholder piece
        restored as its target; and how many times each term (as listed) was applied."""
        applied: Counter[str] = Counter()
        if self._pattern is None:
            return list(parts), applied
        out: list[Piece] = []
        for part in parts:
            if part.protected:
                out.append(part)
                continue
            position = 0
            for match in self._pattern.finditer(part.text):
                term, target = self._variants[match.group()]
                if match.start() > position:
                    out.append(Piece(part.text[position:match.start()], False))
                out.append(Piece(match.group(), True, replacement=target))
                applied[term] += 1
                position = match.end()
            if position < len(part.text):
                out.append(Piece(part.text[position:], False))
        self.counts.update(applied)
        return out, applied

    def describe(self) -> dict[str, object]:
        """The manifest's account: where the terms came from and how often each was applied."""
        return {"file": self.source, "sha256": self.digest, "entries": len(self.entries),
                "kept": sorted(t for t, target in self.entries.items() if t == target),
                "applied": sum(self.counts.values()), "applied_per_term": dict(sorted(self.counts.items()))}


def load_glossary(path: Path | None, keep: Iterable[str] = ()) -> Glossary | None:
    """Read a TSV glossary (``source<TAB>target`` per line; blank lines and ``#`` comments
    skipped) and add the ``keep`` terms. None when there is neither."""
    from toolkit.io.documents import read_text_file

    keep = [term for term in keep]
    if path is None and not keep:
        return None
    entries: dict[str, str] = {}
    digest = None
    if path is not None:
        text = read_text_file(path)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise ConfigError(f"{path}:{lineno}: expected 'source term<TAB>target term', got {line!r}")
            term, target = fields[0].strip(), fields[1].strip()
            if entries.get(term, target) != target:
                raise ConfigError(f"{path}:{lineno}: '{term}' has two targets: '{entries[term]}' and '{target}'")
            entries[term] = target
    for term in keep:
        if not term.strip():
            raise ConfigError("--keep needs a non-empty term")
        entries[term.strip()] = term.strip()
    return Glossary(entries, str(path) if path is not None else None, digest)


def extend_glossary(base: Glossary | None, entries: Mapping[str, str] | None = None,
                    keep: Iterable[str] = ()) -> Glossary | None:
    """``base`` with more terms (a request's own, on a server started with ``--glossary``): the
    new ``entries`` and ``keep`` terms win over the base's for the same source term. Terms are
    stripped as in a glossary file; an empty one is a ConfigError. None when there are no terms."""
    merged = dict(base.entries) if base is not None else {}
    for term, target in (entries or {}).items():
        if not term.strip() or not target.strip():
            raise ConfigError(f"glossary: expected non-empty source and target terms, got {term!r}: {target!r}")
        merged[term.strip()] = target.strip()
    for term in keep:
        if not term.strip():
            raise ConfigError("keep: expected non-empty terms")
        merged[term.strip()] = term.strip()
    if not merged:
        return None
    if base is not None and merged == base.entries:
        return base
    return Glossary(merged, base.source if base is not None else None)
