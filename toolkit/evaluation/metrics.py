"""sacrebleu's BLEU, chrF++ and TER, and the ROUGE variants, as metric objects (toolkit.evaluation.base).

Their per-segment statistics are sacrebleu's (counted with numpy for BLEU and chrF, TER's search
compiled with numba when installed) and ``[F-measure × 100, 1]`` per document for ROUGE; the
objects pickle as their settings, so worker processes rebuild them once each.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from toolkit.evaluation import base, ngrams, ter
from toolkit.evaluation.rouge import ROUGE

# sacrebleu tokenizers for target languages whose words are not space-separated.
_BLEU_TOKENIZE = {"zh": "zh", "ja": "char", "ko": "char", "th": "char"}
SCORE_ROWS = 8192  # rows of statistics turned into segment-level scores at once
TER_HINT_SEGMENTS = 10_000  # from here, TER without numba takes seconds: say how to speed it up
logger = logging.getLogger(__name__)


def hint_compiled_ter(metrics: Sequence[Any], segments: int) -> None:
    """Warn how to speed TER up when a large corpus would run its pure-Python search; note (at
    INFO: ``--debug`` or ``TOOLKIT_LOG=info`` shows it) that the first compiled run compiles."""
    if not any(getattr(m, "name", None) == "ter" for m in metrics):
        return
    # find_spec, not an import: numba would add ~100 MB to this process, and workers may do the work.
    if importlib.util.find_spec("numba") is None:
        if segments >= TER_HINT_SEGMENTS:
            logger.warning("TER on %d segments in pure Python: seconds to many minutes (its cost grows faster than "
                           "segment length); pip install 'toolkit[fast]' compiles it with numba, same scores", segments)
    elif not ter.kernel_cached():
        # A diagnostic, not a warning: nothing is wrong, and the wait is once per install.
        logger.info("compiling TER's search once (numba, ~10 s; cached for later runs)…")


def ref_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-segment reference lists → sacrebleu's shape: one stream per reference position.

    sacrebleu wants ``[[ref1 of seg1, ref1 of seg2, …], [ref2 of seg1, …]]``; passing per-segment
    lists instead silently scores against the wrong references. Segments with fewer references are
    padded with None, which sacrebleu skips.
    """
    depth = max(len(r) for r in references)
    return [[r[i] if i < len(r) else None for r in references] for i in range(depth)]


class SacreMetric:
    """sacrebleu's BLEU (13a, or the tokenizer its docs give for zh/ja/ko/th), chrF++ or TER."""

    pooled = True

    def __init__(self, name: str, lang: str) -> None:
        from sacrebleu.metrics import BLEU, CHRF, TER

        self.name = name
        self.lang = lang
        if name == "bleu":
            self.metric: Any = BLEU(tokenize=_BLEU_TOKENIZE.get(lang, "13a"))
            self.display = "BLEU"
        elif name == "chrf":
            self.metric = CHRF(word_order=2)
            self.display = "chrF++"
        elif name == "ter":
            self.metric = TER()
            self.display = "TER"
        else:
            raise ValueError(f"not a sacrebleu metric: {name!r}")
        self.higher_is_better = name != "ter"

    def __reduce__(self) -> tuple[Any, ...]:
        return base.rebuilt, (SacreMetric, (self.name, self.lang))

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        """An array — int32 counts for BLEU and chrF, float64 for TER (its average reference
        length) — far smaller than lists of Python numbers, in memory and from a worker."""
        if ngrams.supported(self.metric):  # BLEU, chrF: the same counts, counted with numpy
            stats = ngrams.statistics(self.metric, hypotheses, references)
        else:  # sacrebleu's search, compiled with numba or in leaner Python
            stats = ter.statistics(self.metric, hypotheses, references)
        # sacrebleu's tokenizers memoise up to 65,536 sentences (~20 MB at 100k segments); a corpus
        # rarely repeats one, so the cache is emptied after each slice rather than kept for the run.
        tokenizer = getattr(self.metric, "tokenizer", None)
        cache_clear = getattr(type(tokenizer).__call__, "cache_clear", None) if tokenizer is not None else None
        if cache_clear is not None:
            cache_clear()
        return stats

    def from_sums(self, sums: np.ndarray) -> float:
        # float64 whatever the statistics' dtype (BLEU and chrF keep int32 counts): exact for sums
        # below 2**53, and sacrebleu then computes on the same values as from its own float sums.
        return float(self.metric._compute_score_from_stats(list(np.asarray(sums, dtype=np.float64))).score)

    def signature(self, nrefs: base.Nrefs) -> str:
        self.metric.num_refs = nrefs if isinstance(nrefs, int) else -1
        return str(self.metric.get_signature())

    def compute(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                pool: Any = None) -> base.MetricScore:
        return base.compute(self, hypotheses, references, pool)

    def segment_scores(self, stats: np.ndarray) -> list[float]:
        """Sentence-level scores from per-segment statistics (equal to sacrebleu's ``sentence_score``)."""
        if self.name == "chrf":  # in row blocks: a float64 copy of 100k rows' 24 columns would be 19 MB
            return [score for start in range(0, len(stats), SCORE_ROWS)
                    for score in ngrams.chrf_sentence_scores(self.metric, stats[start:start + SCORE_ROWS]).tolist()]
        return [float(self.metric._compute_score_from_stats(list(row.astype(np.float64))).score) for row in stats]

    def sentence_scores(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        return self.segment_scores(self.compute(hypotheses, references).stats)


class RougeMetric:
    """One ROUGE variant (rouge1, rouge2, rougeL, rougeLsum): F-measure × 100 per document, averaged."""

    higher_is_better = True
    pooled = True
    DISPLAY = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}

    def __init__(self, variant: str, lang: str = "en", stem: str | bool = "auto", lsum_split: str = "newline") -> None:
        self.rouge = ROUGE((variant,), lang=lang, stem=stem, lsum_split=lsum_split)
        self.name = variant
        self.display = self.DISPLAY[variant]

    def __reduce__(self) -> tuple[Any, ...]:
        return base.rebuilt, (RougeMetric, (self.name, self.rouge.lang, self.rouge.stem, self.rouge.lsum_split))

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        scores = [self.rouge.segment_scores(h, r)[self.name] for h, r in zip(hypotheses, references)]
        return np.array([[s, 1.0] for s in scores], dtype=np.float64).reshape(-1, 2)

    @staticmethod
    def from_sums(sums: np.ndarray) -> float:
        return float(sums[0] / sums[1])  # mean F-measure over the documents drawn

    def signature(self, nrefs: base.Nrefs) -> str:
        return self.rouge.signature(self.name, nrefs)

    def compute(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                pool: Any = None) -> base.MetricScore:
        return base.compute(self, hypotheses, references, pool)
