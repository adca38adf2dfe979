"""ROUGE that is right for languages other than ASCII English, with a signature like sacrebleu's.

rouge-score's default tokenizer keeps only [a-z0-9]: "été" becomes "t", so French summaries that
differ only in accented words score as identical. This tokenizer keeps every Unicode letter and
digit, lower-cases, and optionally stems: Porter for English (rouge-score's ``use_stemmer=True``),
Snowball for other languages. On ASCII English it produces exactly rouge-score's tokens, so scores
match rouge-score there.

Conventions (each recorded in the signature):
- ``stem="auto"`` (the default): Porter stemming for English, as rouge-score's users report it
  (``use_stemmer=True``); no stemming for other languages. ``"yes"``/``"no"`` force it.
- ROUGE-Lsum: the sentences of a text are its lines, exactly as rouge-score (``split:newline``); put
  one sentence per line. ``lsum_split="sentences"`` first splits each line with toolkit's segmenter
  for the language (``split:toolkit-<lang>``), for texts that are not one sentence per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.errors import ToolkitError
from toolkit.text.tokenize import UnicodeTokenizer

VARIANTS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
def _version() -> str:
    from importlib import metadata

    return metadata.version("rouge-score")


STEM_MODES = ("auto", "yes", "no")
LSUM_SPLITS = ("newline", "sentences")


def resolve_stem(stem: str | bool, lang: str) -> bool:
    """``auto`` → stem English only (rouge-score's ``use_stemmer=True`` convention); booleans accepted."""
    if isinstance(stem, bool):
        return stem
    if stem not in STEM_MODES:
        raise ToolkitError(f"--stem must be one of {', '.join(STEM_MODES)}, not '{stem}'")
    return lang == "en" if stem == "auto" else stem == "yes"


@dataclass
class RougeScore:
    name: str
    score: float  # F-measure × 100, averaged over documents
    signature: str

    def format(self) -> str:
        return f"{self.name} = {self.score:.2f}"


class ROUGE:
    """ROUGE-1/2/L/Lsum with rouge-score's scorer and a Unicode tokenizer.

    ``corpus_score`` averages per-document F-measures (as rouge-score's users do); with several
    references per document each variant takes the best-matching one (rouge-score's score_multi).
    ROUGE-Lsum takes the lines of a text as its sentences, as rouge-score does (see the module).
    """

    def __init__(self, variants: Sequence[str] = VARIANTS, lang: str = "en", stem: str | bool = "auto",
                 lsum_split: str = "newline") -> None:
        from rouge_score import rouge_scorer

        unknown = set(variants) - set(VARIANTS)
        if unknown:
            raise ToolkitError(f"unknown ROUGE variant(s): {', '.join(sorted(unknown))}")
        if lsum_split not in LSUM_SPLITS:
            raise ToolkitError(f"ROUGE-Lsum sentence split must be one of {', '.join(LSUM_SPLITS)}, not '{lsum_split}'")
        self.variants = tuple(variants)
        self.lang = lang
        self.stem = stem
        self.lsum_split = lsum_split
        self.tokenizer = UnicodeTokenizer(lang, resolve_stem(stem, lang))
        self._scorer = rouge_scorer.RougeScorer(list(self.variants), tokenizer=self.tokenizer)

    def _lines(self, text: str) -> str:
        if self.lsum_split == "newline" or "rougeLsum" not in self.variants:
            return text
        from toolkit.text.segment import split_sentences

        return "\n".join(s for line in text.split("\n") for s in split_sentences(line, self.lang))

    def segment_scores(self, hypothesis: str, references: Sequence[str]) -> dict[str, float]:
        """F-measure × 100 of each variant for one document."""
        refs = [self._lines(r) for r in references if r is not None]
        if not refs:
            raise ToolkitError("ROUGE needs at least one reference per document")
        hyp = self._lines(hypothesis)
        scores = self._scorer.score_multi(refs, hyp) if len(refs) > 1 else self._scorer.score(refs[0], hyp)
        return {v: scores[v].fmeasure * 100 for v in self.variants}

    def signature(self, variant: str, nrefs: int | str = 1) -> str:
        from toolkit.version import __version__ as toolkit_version

        split = "newline" if self.lsum_split == "newline" else f"toolkit-{self.lang}"
        mode = self.stem if isinstance(self.stem, str) else ("yes" if self.stem else "no")
        return (f"nrefs:{nrefs}|tok:unicode-words|case:lc|stem:{self.tokenizer.stem_name}({mode})|variant:{variant}"
                + (f"|split:{split}" if variant == "rougeLsum" else "")
                + f"|agg:mean-f|version:rouge-score-{_version()}+toolkit-{toolkit_version}")

    def corpus_score(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, RougeScore]:
        """``references[i]`` holds the references of document i (this is per document, not per stream)."""
        if len(hypotheses) != len(references):
            raise ToolkitError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
        per_doc = [self.segment_scores(h, r) for h, r in zip(hypotheses, references)]
        nrefs = sorted({len(r) for r in references})
        label = nrefs[0] if len(nrefs) == 1 else "var"
        return {v: RougeScore(v, sum(d[v] for d in per_doc) / len(per_doc), self.signature(v, label)) for v in self.variants}
