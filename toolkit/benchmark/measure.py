"""Measurements shared by the benchmarks: peak memory of this process, percentiles, machine facts."""

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is VmHWM, which starts afresh at exec; ru_maxrss would carry over the peak of
    the parent that spawned us (Linux keeps it across fork and exec), so a worker started by a
    big parent would report the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without numpy."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
