"""What a check may know besides its pair: the thresholds and what the run as a whole shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.options import QualityOptions
from toolkit.quality.types import Pair


@dataclass(frozen=True)
class RunStatistics:
    """Learned from the run's own pairs: the usual length ratio and the names kept in translation."""

    pairs: int = 0
    log_ratio_median: float | None = None  # None: too few pairs to learn it
    log_ratio_scale: float | None = None
    kept_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Context:
    pair: Pair
    options: QualityOptions = field(default_factory=QualityOptions)
    run: RunStatistics = field(default_factory=RunStatistics)
