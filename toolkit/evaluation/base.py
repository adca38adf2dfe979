"""The metric interface and the one path every metric's statistics take.

A metric (BLEU, chrF++, TER, a ROUGE variant, BERTScore, COMET, …) is an object with its settings
that turns aligned segments into per-segment *sufficient statistics* (an n × k array) and a corpus
score from their column sums (``from_sums``), as sacrebleu's metrics do internally. Because the
score of any set of segments is ``from_sums`` of their summed rows, bootstrap resampling and paired
tests (toolkit.evaluation.significance) work on every metric alike, and a document's score is the
metric of its own segments' rows.

``submit`` is the single extraction path: a ``pooled`` metric's statistics are extracted in slices
of EXTRACT_SLICE segments, every slice queued at once on the worker pool when there is one (the
metric object itself is pickled to the workers, built once per worker process); the others (the
neural metrics: one model, loaded once, and COMET's sources held by the metric) are computed in this
process in one call.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from toolkit.errors import ToolkitError

EXTRACT_SLICE = 2000  # segments whose statistics one call extracts (bounds sacrebleu's reference cache)
Nrefs = int | str  # references per segment, or "var" when segments have different numbers


@runtime_checkable
class Metric(Protocol):
    """What every metric provides. ``name`` is its registry name (``bleu``, ``rougeL``, ``comet``);
    ``display`` the name reported (``BLEU``, ``ROUGE-L``, ``COMET``)."""

    name: str
    display: str
    higher_is_better: bool
    pooled: bool  # statistics may be extracted slice by slice, in worker processes

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        """Per-segment sufficient statistics (one row per hypothesis) of these segments."""
        ...

    def from_sums(self, sums: np.ndarray) -> float:
        """The corpus score of the segments whose statistics sum to ``sums``."""
        ...

    def signature(self, nrefs: Nrefs) -> str:
        """sacrebleu-style settings and versions that make a score reproducible."""
        ...


@dataclass
class MetricScore:
    name: str
    score: float
    stats: np.ndarray
    signature: str
    higher_is_better: bool


def nrefs(references: Sequence[Sequence[str | None]]) -> Nrefs:
    """References per segment (None entries, which sacrebleu skips, not counted), or "var"."""
    counts = {len([r for r in refs if r is not None]) for refs in references}
    return counts.pop() if len(counts) == 1 else "var"


M = TypeVar("M")


@functools.cache
def rebuilt(cls: Callable[..., M], args: tuple[Any, ...]) -> M:
    """A metric unpickled in a worker: built once per process and settings, then reused for every
    slice (building sacrebleu's or rouge-score's objects costs more than small slices)."""
    return cls(*args)


def _slices(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + EXTRACT_SLICE, n)) for start in range(0, n, EXTRACT_SLICE)]


def _slice_statistics(metric: Metric, hypotheses: list[str], references: list[Sequence[str]]) -> np.ndarray:
    return metric.statistics(hypotheses, references)


def submit(metric: Metric, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
           pool: Executor | None = None) -> Callable[[], MetricScore]:
    """``metric``'s score, started: with a pool, every slice is queued now and the returned call
    collects them (so the slices of several metrics keep the workers busy back to back); without
    one, the returned call does the work."""
    if not metric.pooled:
        def parts() -> Iterator[np.ndarray]:
            yield metric.statistics(hypotheses, references)
    else:
        slices = _slices(len(hypotheses))
        if pool is not None and len(slices) > 1:
            # Shallow slices: the pool pickles them as it sends them; copying each segment's
            # reference list here would hold ~40 MB more at 100k segments, for every metric queued.
            futures = [pool.submit(_slice_statistics, metric, list(hypotheses[a:b]), list(references[a:b]))
                       for a, b in slices]

            def parts() -> Iterator[np.ndarray]:
                arrays = [future.result() for future in futures]
                futures.clear()  # a future keeps its result: the slices would stay beside their concatenation
                return iter(arrays)
        else:
            def parts() -> Iterator[np.ndarray]:
                return (metric.statistics(list(hypotheses[a:b]), [list(r) for r in references[a:b]]) for a, b in slices)

    def collect() -> MetricScore:
        stats = np.concatenate(list(parts()))
        # Slices (and workers) each saw some references; the signature's nrefs is the whole corpus's.
        return MetricScore(metric.display, metric.from_sums(stats.sum(axis=0)), stats,
                           metric.signature(nrefs(references)), metric.higher_is_better)
    return collect


def compute(metric: Metric, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
            pool: Executor | None = None) -> MetricScore:
    """Corpus score, per-segment statistics and signature of ``metric`` on aligned segments."""
    return submit(metric, hypotheses, references, pool)()


def worker_pool(jobs: int, segments: int) -> AbstractContextManager[Executor | None]:
    """Worker processes for statistics extraction, only where there is more than one slice to share
    (``jobs`` 0: one per CPU, at most 8)."""
    if jobs < 0:
        raise ToolkitError("--jobs must be 0 (one per CPU) or a positive number")
    workers = jobs or min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    slices = -(-segments // EXTRACT_SLICE)
    if workers < 2 or slices < 2:
        return nullcontext(None)
    return workers_context(min(workers, slices))


@contextmanager
def workers_context(count: int) -> Iterator[Executor]:
    """A spawned process pool that, on an error or Ctrl-C, drops the slices not yet started: every
    metric's slices are queued up front, and the error should not wait for all of them to run."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # waits only for the slices already running
        raise
    pool.shutdown(wait=True)
