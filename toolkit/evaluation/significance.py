"""Bootstrap confidence intervals and paired significance tests over per-segment statistics.

Every metric is expressed as per-segment sufficient statistics (an n × k array) plus a function
from their column sums to the corpus score: BLEU's n-gram counts, chrF's character statistics,
TER's edits, or ROUGE's (F-measure, 1) per document. Resampling rows and re-aggregating is then
exact for corpus-level metrics and cheap for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FromSums = Callable[[np.ndarray], float]


def _scores(sums: np.ndarray, from_sums: FromSums) -> np.ndarray:
    return np.array([from_sums(row) for row in sums])


def bootstrap_ci(stats: np.ndarray, from_sums: FromSums, resamples: int, seed: int,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus score (segments resampled with replacement)."""
    rng = np.random.default_rng(seed)
    n = len(stats)
    index = rng.integers(0, n, size=(resamples, n))
    scores = _scores(stats[index].sum(axis=1), from_sums)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


@dataclass
class PairedResult:
    delta: float  # system − baseline
    ci_low: float
    ci_high: float
    p_bootstrap: float
    p_randomization: float


def paired_test(system: np.ndarray, baseline: np.ndarray, from_sums: FromSums, resamples: int, seed: int,
                confidence: float = 0.95) -> PairedResult:
    """Paired bootstrap resampling (Koehn 2004) and approximate randomization (Riezler & Maxwell 2005).

    Both are two-sided and count ties as extreme (``>=``), so a system compared with itself gets
    p = 1, and p is never below 1/(resamples + 1).
    """
    if system.shape != baseline.shape:
        raise ValueError("system and baseline statistics must be aligned segment by segment")
    n = len(system)
    observed = from_sums(system.sum(axis=0)) - from_sums(baseline.sum(axis=0))
    rng = np.random.default_rng(seed)

    index = rng.integers(0, n, size=(resamples, n))
    deltas = _scores(system[index].sum(axis=1), from_sums) - _scores(baseline[index].sum(axis=1), from_sums)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    # Under the null the deltas are centred on 0: shift the bootstrap distribution there.
    centred = np.abs(deltas - deltas.mean())
    p_boot = (np.count_nonzero(centred >= abs(observed) - 1e-9) + 1) / (resamples + 1)

    swap = rng.integers(0, 2, size=(resamples, n)).astype(bool)
    sums_a = np.where(swap[..., None], baseline[None], system[None]).sum(axis=1)
    sums_b = np.where(swap[..., None], system[None], baseline[None]).sum(axis=1)
    shuffled = np.abs(_scores(sums_a, from_sums) - _scores(sums_b, from_sums))
    p_ar = (np.count_nonzero(shuffled >= abs(observed) - 1e-9) + 1) / (resamples + 1)
    return PairedResult(float(observed), float(low), float(high), float(p_boot), float(p_ar))
