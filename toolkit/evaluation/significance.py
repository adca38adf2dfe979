"""Bootstrap confidence intervals and paired significance tests over per-segment statistics.

Every metric is expressed as per-segment sufficient statistics (an n × k array) plus a function
from their column sums to the corpus score: BLEU's n-gram match/total counts and lengths, chrF's
character and word n-gram statistics, TER's edits and reference length, or (score, 1) per segment
for metrics that are averages of segment scores (ROUGE F-measures, COMET, BERTScore). Resampling
segments and re-aggregating is then exact for corpus-level metrics and cheap for all of them.

Memory stays O(n + chunk × n) whatever the number of resamples: resamples are drawn in chunks of
rows, each chunk turned into a (chunk × n) matrix of how often each segment was drawn (or which
side it was swapped to), and multiplied with the statistics. The random streams are exactly
sacrebleu's (``default_rng(seed).choice(n, (resamples, n))`` for the bootstrap, ``integers(2,
(resamples, n), dtype=bool)`` for approximate randomization), drawn chunk by chunk in whole
multiples of 32 rows so that the chunked stream equals the single draw; so are the test statistics,
so p-values equal ``sacrebleu --paired-bs`` / ``--paired-ar`` on the same seed (up to sacrebleu's
float32 statistics), except that ties count as extreme (``>=``, sacrebleu uses ``>``): a system
compared with itself gets p = 1, not 1/(resamples + 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

FromSums = Callable[[np.ndarray], float]
# Elements of one (chunk × n) index or count matrix: 1M × 8 bytes = 8 MB.
CHUNK_ELEMENTS = 1_000_000
_TIE = 1e-9


def _chunk_rows(n: int, resamples: int, granularity: int = 1) -> int:
    rows = max(granularity, (CHUNK_ELEMENTS // max(n, 1)) // granularity * granularity)
    return min(rows, resamples)


def _chunks(resamples: int, rows: int) -> Iterator[int]:
    done = 0
    while done < resamples:
        size = min(rows, resamples - done)
        yield size
        done += size


def _scores(sums: np.ndarray, from_sums: FromSums) -> np.ndarray:
    return np.array([from_sums(row) for row in sums], dtype=np.float64)


def bootstrap_counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """(chunk × n) float64 matrices: how often resample r drew segment i (sacrebleu's stream)."""
    rng = np.random.default_rng(seed)
    for size in _chunks(resamples, _chunk_rows(n, resamples)):
        index = rng.choice(n, size=(size, n), replace=True)
        index += (np.arange(size, dtype=index.dtype) * n)[:, None]
        counts = np.bincount(index.ravel(), minlength=size * n).reshape(size, n)
        del index
        weights = counts.astype(np.float64)
        del counts
        yield weights


def randomization_masks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """(chunk × n) float64 0/1 matrices: 1 where trial r swaps segment i between the systems."""
    rng = np.random.default_rng(seed)
    # Booleans are drawn from 32-bit words and a call's unused bits are dropped: chunks of a whole
    # number of words (rows × n a multiple of 32) give exactly the stream of one big draw.
    granularity = 32 // math.gcd(n, 32)
    for size in _chunks(resamples, _chunk_rows(n, resamples, granularity)):
        yield rng.integers(2, size=(size, n), dtype=bool).astype(np.float64)


def bootstrap_ci(stats: np.ndarray, from_sums: FromSums, resamples: int, seed: int,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus score (segments resampled with replacement)."""
    return resample([stats], [from_sums], resamples, seed, confidence=confidence).system_ci[0]


@dataclass
class PairedResult:
    delta: float  # system − baseline
    ci_low: float
    ci_high: float
    p_bootstrap: float
    p_randomization: float


@dataclass
class Resampled:
    """Per metric: the system's interval, and with a baseline its interval and the paired test."""

    system_ci: list[tuple[float, float]]
    baseline_ci: list[tuple[float, float]] | None = None
    paired: list[PairedResult] | None = None


def _p_value(null: np.ndarray, observed: float) -> float:
    # (c + 1) / (N + 1), as sacrebleu (after multeval); ties with the observed value count.
    return float((np.count_nonzero(null >= observed - _TIE) + 1) / (len(null) + 1))


def _interval(scores: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def resample(systems: Sequence[np.ndarray], from_sums: Sequence[FromSums], resamples: int, seed: int,
             baselines: Sequence[np.ndarray] | None = None, confidence: float = 0.95) -> Resampled:
    """Bootstrap intervals (and, with baselines, paired tests) of several metrics in one pass.

    The metrics of one evaluation are scored on the same segments, so each chunk of counts (and of
    randomization masks) is drawn once and multiplies every metric's statistics, for the system and
    the baseline alike (the same draws sacrebleu makes for its CI and ``--paired-bs``).

    Paired tests: bootstrap as sacrebleu (after Moses' bootstrap-hypothesis-difference-significance),
    ``|Δ*| − mean |Δ*|`` over resamples against the observed ``|Δ|``; approximate randomization swaps
    each segment's statistics between the systems with probability 1/2 and compares ``|a − b|``
    with ``|Δ|``. Both p-values are ``(count + 1) / (resamples + 1)``, never below 1/(resamples + 1).
    """
    # Statistics keep their dtype (BLEU's and chrF's int32 counts): a float64 copy of every metric's
    # matrix would sit in memory for the whole pass; each product casts its operand instead, and
    # with integer counts every partial sum is an integer below 2**53, so the sums are exact anyway.
    system = [np.asarray(s) for s in systems]
    baseline = None
    if baselines is not None:
        baseline = [np.asarray(b) for b in baselines]
        if [b.shape for b in baseline] != [s.shape for s in system]:
            raise ValueError("system and baseline statistics must be aligned segment by segment")
    n = len(system[0])

    def scores(weights: np.ndarray, stats: list[np.ndarray]) -> list[np.ndarray]:
        """Each metric's score of every row of ``weights @ statistics`` (one resample per row)."""
        return [_scores(weights @ values, f) for values, f in zip(stats, from_sums)]

    sys_scores: list[list[np.ndarray]] = [[] for _ in systems]
    base_scores: list[list[np.ndarray]] = [[] for _ in systems]
    for counts in bootstrap_counts(n, resamples, seed):
        for metric, chunk in enumerate(scores(counts, system)):
            sys_scores[metric].append(chunk)
        if baseline is not None:
            for metric, chunk in enumerate(scores(counts, baseline)):
                base_scores[metric].append(chunk)
    drawn = [np.concatenate(chunks) for chunks in sys_scores]
    result = Resampled([_interval(d, confidence) for d in drawn])
    if baseline is None:
        return result
    base_drawn = [np.concatenate(chunks) for chunks in base_scores]
    result.baseline_ci = [_interval(d, confidence) for d in base_drawn]

    sys_total = [s.sum(axis=0) for s in system]
    base_total = [b.sum(axis=0) for b in baseline]
    observed = [f(s) - f(b) for s, b, f in zip(sys_total, base_total, from_sums)]
    # A swapped segment contributes the baseline's statistics to pseudo-system a, the system's to b:
    # a = system total + swap @ (baseline − system), b = baseline total − the same.
    shuffled: list[list[np.ndarray]] = [[] for _ in systems]
    for swap in randomization_masks(n, resamples, seed):
        moved = [swap @ b - swap @ s for s, b in zip(system, baseline)]
        for metric, f in enumerate(from_sums):
            a_scores = _scores(sys_total[metric] + moved[metric], f)
            b_scores = _scores(base_total[metric] - moved[metric], f)
            shuffled[metric].append(np.abs(a_scores - b_scores))
    result.paired = []
    for metric, delta in enumerate(observed):
        deltas = drawn[metric] - base_drawn[metric]
        magnitudes = np.abs(deltas)
        low, high = _interval(deltas, confidence)
        result.paired.append(PairedResult(float(delta), low, high, _p_value(magnitudes - magnitudes.mean(), abs(delta)),
                                          _p_value(np.concatenate(shuffled[metric]), abs(delta))))
    return result


def paired_test(system: np.ndarray, baseline: np.ndarray, from_sums: FromSums, resamples: int, seed: int,
                confidence: float = 0.95) -> PairedResult:
    """Paired bootstrap resampling (Koehn 2004) and approximate randomization (Riezler & Maxwell 2005)
    of one metric; see ``resample``."""
    paired = resample([system], [from_sums], resamples, seed, [baseline], confidence).paired
    assert paired is not None
    return paired[0]
