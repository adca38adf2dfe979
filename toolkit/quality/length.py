"""``length-ratio``: an output much shorter or longer than the run's other outputs would make it.

The usual ratio is learned from the run itself — median and MAD of log(output/source characters)
over its pairs — since it depends on the language pair, the domain and the system."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from toolkit.options import QualityOptions
from toolkit.quality.context import Context
from toolkit.quality.types import Flag, Languages, Pair, Skipped

MAD_TO_SIGMA = 1.4826  # MAD × this estimates a normal distribution's standard deviation


def log_ratio(source: str, output: str) -> float | None:
    s, o = len(source.strip()), len(output.strip())
    return math.log(o / s) if s and o else None


def learn(pairs: Sequence[Pair], options: QualityOptions) -> tuple[float | None, float | None]:
    """(median, scale) of the run's log length ratios, or (None, None) with too few pairs."""
    ratios = [r for p in pairs if len(p.source.strip()) >= options.length_ratio_min_chars
              for r in [log_ratio(p.source, p.output)] if r is not None]
    if len(ratios) < options.length_ratio_min_pairs:
        return None, None
    median = statistics.median(ratios)
    mad = statistics.median(abs(r - median) for r in ratios)
    return median, max(options.length_ratio_min_scale, MAD_TO_SIGMA * mad)


def length_ratio(source: str, output: str, langs: Languages, context: Context) -> Flag | Skipped | None:
    options, run = context.options, context.run
    if source.strip() and not output.strip():
        return Flag("length-ratio", "the output is empty")
    if len(source.strip()) < options.length_ratio_min_chars:
        return None
    if run.log_ratio_median is None or run.log_ratio_scale is None:
        return Skipped("length-ratio", f"fewer than {options.length_ratio_min_pairs} pairs in the run to learn "
                                       "the usual length ratio from")
    ratio = log_ratio(source, output)
    if ratio is None:
        return None
    z = (ratio - run.log_ratio_median) / run.log_ratio_scale
    if abs(z) > options.length_ratio_z:
        return Flag("length-ratio", f"output/source length {math.exp(ratio):.2f}, the run's usual "
                                    f"{math.exp(run.log_ratio_median):.2f} ({'shorter' if z < 0 else 'longer'})")
    return None
