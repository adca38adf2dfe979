"""Reference-free accuracy metrics: how much of what a translation must carry over it does carry.

``numbers``: the share of the sources' numbers, percentages, amounts, dates and times found in the
outputs, read with each language's conventions (French ``7,4 %`` is English ``7.4%``);
``terms``: the share of the glossary and ``--keep`` terms the sources use, and of their protected
spans (URLs, e-mails, paths, placeholders), found in the outputs. Both count with the
``numbers`` and ``terms`` checks of toolkit.quality, so a metric and a review agree on what is
missing.

Each is a metric of the usual interface (toolkit.evaluation.base): per-segment statistics
``[found, expected]``, a corpus score ``100 × Σfound / Σexpected`` (100 when nothing was
expected), hence bootstrap CIs and paired tests like BLEU's. They read the sources, not the
references, and are not ``pooled``: the metric holds its sources, as COMET does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.evaluation import base
from toolkit.options import QualityOptions
from toolkit.quality.context import Context
from toolkit.quality.numbers import carried
from toolkit.quality.terms import required
from toolkit.quality.types import Languages, Pair
from toolkit.version import __version__

REFERENCE_FREE = ("numbers", "terms")


def source_language(sources: Sequence[str]) -> str:
    """The sources' language, as the language identifier reads their first 200 segments."""
    from toolkit.text.detect import identify

    return identify("\n".join(sources[:200]))[0]


class _Accuracy:
    name: str
    display: str
    higher_is_better = True
    pooled = False

    def __init__(self, name: str, sources: Sequence[str] | None) -> None:
        if sources is None:
            raise ToolkitError(f"{name} needs the source texts: give --src FILE (text or JSONL with 'source'), or "
                               "score a translate run folder, whose manifest holds them")
        self.sources = list(sources)

    def _check(self, hypotheses: Sequence[str]) -> None:
        if len(hypotheses) != len(self.sources):
            raise ToolkitError(f"{self.name}: {len(self.sources)} sources but {len(hypotheses)} hypotheses")

    @staticmethod
    def from_sums(sums: np.ndarray) -> float:
        found, expected = float(sums[0]), float(sums[1])
        return 100.0 * found / expected if expected else 100.0


class NumbersMetric(_Accuracy):
    """The share of the sources' numeric mentions found in the outputs, × 100."""

    name = "numbers"
    display = "Numbers"

    def __init__(self, sources: Sequence[str] | None, source_lang: str | None, target_lang: str,
                 options: QualityOptions | None = None) -> None:
        super().__init__("numbers", sources)
        self.langs = Languages(source_lang or source_language(self.sources), target_lang)
        self.options = options or QualityOptions()

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        self._check(hypotheses)
        rows = [carried(s, h, self.langs, Context(Pair(s, h), self.options)) for s, h in zip(self.sources, hypotheses)]
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def signature(self, nrefs: base.Nrefs) -> str:
        return f"nrefs:0|src:{self.langs.source}|tgt:{self.langs.target}|read:locale|toolkit:{__version__}"


class TermsMetric(_Accuracy):
    """The share of the glossary/kept terms the sources use and of their protected spans found in
    the outputs, × 100."""

    name = "terms"
    display = "Terms"

    def __init__(self, sources: Sequence[str] | None, glossary: Mapping[str, str] | None = None) -> None:
        super().__init__("terms", sources)
        self.glossary = dict(glossary or {})

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        self._check(hypotheses)
        rows = []
        for source, output in zip(self.sources, hypotheses):
            items = required(Pair(source, output, glossary=self.glossary))
            rows.append((sum(found for _, _, found in items), sum(expected for _, expected, _ in items)))
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def signature(self, nrefs: base.Nrefs) -> str:
        entries = "\n".join(f"{k}\t{v}" for k, v in sorted(self.glossary.items()))
        digest = hashlib.sha256(entries.encode("utf-8")).hexdigest()[:12] if self.glossary else "none"
        return f"nrefs:0|terms:{len(self.glossary)}|glossary:{digest}|spans:yes|toolkit:{__version__}"
