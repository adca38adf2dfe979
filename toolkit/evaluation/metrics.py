"""Metric objects: sacrebleu's BLEU, chrF++ and TER, and ROUGE variants, behind one small interface.

A metric turns aligned hypotheses and references into (corpus score, per-segment statistics,
signature); ``from_sums`` recomputes the score from summed statistics for resampling.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.evaluation import ngrams, ter
from toolkit.evaluation.neural import NeuralOptions
from toolkit.evaluation.rouge import ROUGE, VARIANTS

TRANSLATION_METRICS = ("bleu", "chrf", "ter")
SUMMARIZATION_METRICS = ("rouge",)
NEURAL = ("comet", "bertscore")
KNOWN = ("bleu", "chrf", "ter", "rouge", *VARIANTS, *NEURAL)
# sacrebleu tokenizers for target languages whose words are not space-separated.
_BLEU_TOKENIZE = {"zh": "zh", "ja": "char", "ko": "char", "th": "char"}
EXTRACT_SLICE = 2000  # segments whose statistics sacrebleu extracts in one call
TER_HINT_SEGMENTS = 10_000  # from here, TER without numba takes seconds: say how to speed it up
logger = logging.getLogger(__name__)


def hint_compiled_ter(metrics: Sequence[Any], segments: int) -> None:
    """Say how to speed TER up when a large corpus would run its pure-Python search."""
    # find_spec, not an import: numba would add ~100 MB to this process, and workers may do the work.
    if segments >= TER_HINT_SEGMENTS and any(isinstance(m, SacreMetric) and m.name == "ter" for m in metrics) \
            and importlib.util.find_spec("numba") is None:
        logger.warning("TER on %d segments in pure Python: seconds to many minutes (its cost grows faster than "
                       "segment length); pip install 'toolkit[fast]' compiles it with numba, same scores", segments)


@dataclass
class MetricScore:
    name: str
    score: float
    stats: np.ndarray
    signature: str
    higher_is_better: bool


def ref_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-segment reference lists → sacrebleu's shape: one stream per reference position.

    sacrebleu wants ``[[ref1 of seg1, ref1 of seg2, …], [ref2 of seg1, …]]``; passing per-segment
    lists instead silently scores against the wrong references. Segments with fewer references are
    padded with None, which sacrebleu skips.
    """
    depth = max(len(r) for r in references)
    return [[r[i] if i < len(r) else None for r in references] for i in range(depth)]


def _slices(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + EXTRACT_SLICE, n)) for start in range(0, n, EXTRACT_SLICE)]


@cache
def _worker_metric(spec: tuple[Any, ...]) -> SacreMetric | ROUGE:
    if spec[0] == "sacre":
        return SacreMetric(spec[1], spec[2])
    return ROUGE(spec[1], lang=spec[2], stem=spec[3], lsum_split=spec[4])


def _extract_slice(spec: tuple[Any, ...], hypotheses: list[str], references: Sequence[Sequence[str]],
                   metric: SacreMetric | ROUGE | None = None) -> Any:
    """Statistics of one slice of segments; in a worker process, the metric is built once per process.

    Statistics come back as an array — int32 counts for BLEU and chrF, float64 for TER (its average
    reference length) — far smaller than lists of Python numbers, in memory and from a worker.
    """
    metric = metric or _worker_metric(spec)
    if isinstance(metric, SacreMetric):
        if ngrams.supported(metric.metric):  # BLEU, chrF: the same counts, counted with numpy
            stats = ngrams.statistics(metric.metric, hypotheses, references)
        elif metric.name == "ter":  # sacrebleu's search, compiled with numba or in leaner Python
            stats = ter.statistics(metric.metric, hypotheses, references)
        else:
            stats = np.asarray(metric.metric._extract_corpus_statistics(hypotheses, ref_streams(references)),
                               dtype=np.float64)
        # sacrebleu's tokenizers memoise up to 65,536 sentences (~20 MB at 100k segments); a corpus
        # rarely repeats one, so the cache is emptied after each slice rather than kept for the run.
        tokenizer = getattr(metric.metric, "tokenizer", None)
        cache_clear = getattr(type(tokenizer).__call__, "cache_clear", None) if tokenizer is not None else None
        if cache_clear is not None:
            cache_clear()
        return stats
    return [metric.segment_scores(h, r) for h, r in zip(hypotheses, references)]


def extract(spec: tuple[Any, ...], hypotheses: Sequence[str], references: Sequence[Sequence[str]],
            pool: Executor | None = None, local: SacreMetric | ROUGE | None = None) -> Any:
    """Per-segment statistics in slices of EXTRACT_SLICE segments, on ``pool``'s processes when given.

    Slices also bound memory: sacrebleu caches the n-grams of all the references passed at once.
    """
    return submit_extract(spec, hypotheses, references, pool, local)()


def submit_extract(spec: tuple[Any, ...], hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                   pool: Executor | None = None, local: SacreMetric | ROUGE | None = None) -> Callable[[], Any]:
    """``extract``, started: with a pool, every slice is queued now and the returned call collects them
    (so that the slices of several metrics keep the workers busy back to back); without one, the
    returned call does the work."""
    slices = _slices(len(hypotheses))
    if pool is not None and len(slices) > 1:
        futures = [pool.submit(_extract_slice, spec, list(hypotheses[a:b]), list(references[a:b])) for a, b in slices]

        def parts() -> Iterable[Any]:
            return (future.result() for future in futures)
    else:
        def parts() -> Iterable[Any]:
            return (_extract_slice(spec, list(hypotheses[a:b]), [list(r) for r in references[a:b]], local)
                    for a, b in slices)

    def collect() -> Any:
        if spec[0] == "sacre":
            return np.concatenate(list(parts()))
        return [row for part in parts() for row in part]
    return collect


class SacreMetric:
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
        else:
            self.metric = TER()
            self.display = "TER"
        self.higher_is_better = name != "ter"

    def from_sums(self, sums: np.ndarray) -> float:
        # float64 whatever the statistics' dtype (BLEU and chrF keep int32 counts): exact for sums
        # below 2**53, and sacrebleu then computes on the same values as from its own float sums.
        return float(self.metric._compute_score_from_stats(list(np.asarray(sums, dtype=np.float64))).score)

    def compute(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                pool: Executor | None = None) -> MetricScore:
        """Per-segment statistics are extracted once; the corpus score is sacrebleu's aggregate of them."""
        return self.submit(hypotheses, references, pool)()

    def submit(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
               pool: Executor | None = None) -> Callable[[], MetricScore]:
        """``compute``, started on ``pool`` now; the returned call waits for it."""
        collect = submit_extract(("sacre", self.name, self.lang), hypotheses, references, pool, self)

        def score() -> MetricScore:
            stats = collect()
            # Slices (and workers) each saw some references; the signature's nrefs is the whole corpus's.
            counts = {len([r for r in refs if r is not None]) for refs in references}
            self.metric.num_refs = counts.pop() if len(counts) == 1 else -1
            # Sums of integer counts are exact in float64: the same score as sacrebleu's own aggregation.
            total = self.from_sums(stats.sum(axis=0))
            return MetricScore(self.display, total, stats, str(self.metric.get_signature()), self.higher_is_better)
        return score

    def segment_scores(self, stats: np.ndarray) -> list[float]:
        """Sentence-level scores from per-segment statistics (equal to sacrebleu's ``sentence_score``)."""
        if self.name == "chrf":
            return ngrams.chrf_sentence_scores(self.metric, stats).tolist()
        return [float(self.metric._compute_score_from_stats(list(row.astype(np.float64))).score) for row in stats]

    def sentence_scores(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        return self.segment_scores(self.compute(hypotheses, references).stats)


class RougeMetric:
    """One ROUGE variant; variants of one evaluation share a scorer and its per-document scores."""

    higher_is_better = True

    def __init__(self, variant: str, rouge: ROUGE, cache: dict[Any, list[dict[str, float]]]) -> None:
        self.name = variant
        self.display = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}[variant]
        self.rouge = rouge
        self._cache = cache

    @staticmethod
    def from_sums(sums: np.ndarray) -> float:
        return float(sums[0] / sums[1])  # mean F-measure over the documents drawn

    def compute(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                pool: Executor | None = None) -> MetricScore:
        key = (tuple(hypotheses), tuple(tuple(r) for r in references))
        if key not in self._cache:
            spec = ("rouge", self.rouge.variants, self.rouge.lang, self.rouge.stem, self.rouge.lsum_split)
            self._cache[key] = extract(spec, hypotheses, references, pool, self.rouge)
        per_doc = self._cache[key]
        stats = np.array([[d[self.name], 1.0] for d in per_doc])
        nrefs = sorted({len(r) for r in references})
        signature = self.rouge.signature(self.name, nrefs[0] if len(nrefs) == 1 else "var")
        return MetricScore(self.display, self.from_sums(stats.sum(axis=0)), stats, signature, True)


def build_metrics(names: Sequence[str], lang: str, stem: str | bool = "auto", lsum_split: str = "newline",
                  neural: NeuralOptions | None = None, sources: Sequence[str] | None = None) -> list[Any]:
    """Metric objects for names such as ``bleu,chrf,ter,rouge`` (``rouge`` = all four variants),
    ``bertscore`` (optional extra ``toolkit[neural]``) and ``comet``.

    ``stem`` and ``lsum_split`` are ROUGE's conventions (see toolkit.evaluation.rouge); ``neural``
    chooses the neural metrics' models and device (see toolkit.evaluation.neural); ``sources`` are
    the source texts of the segments, which COMET reads."""
    metrics: list[Any] = []
    variants: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        lowered = name.lower()
        if lowered in seen:
            raise ToolkitError(f"metric '{name}' is given twice")
        seen.add(lowered)
        if lowered in TRANSLATION_METRICS:
            metrics.append(SacreMetric(lowered, lang))
        elif lowered == "bertscore":
            from toolkit.evaluation.neural import BertScoreMetric

            metrics.append(BertScoreMetric(lang, neural or NeuralOptions()))
        elif lowered == "comet":
            from toolkit.evaluation.neural import CometMetric

            metrics.append(CometMetric(neural or NeuralOptions(), sources))
        elif lowered == "rouge":
            variants.extend(VARIANTS)
        elif name in VARIANTS or lowered in {v.lower() for v in VARIANTS}:
            variants.append(next(v for v in VARIANTS if v.lower() == lowered))
        else:
            raise ToolkitError(f"unknown metric '{name}' (known: {', '.join(KNOWN)})")
    if variants:
        rouge = ROUGE(tuple(dict.fromkeys(variants)), lang=lang, stem=stem, lsum_split=lsum_split)
        cache: dict[Any, list[dict[str, float]]] = {}
        metrics.extend(RougeMetric(v, rouge, cache) for v in rouge.variants)
    if not metrics:
        raise ToolkitError("no metrics given")
    return metrics
