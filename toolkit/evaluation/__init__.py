"""Evaluation: BLEU, chrF++, TER (sacrebleu), ROUGE (rouge-score, Unicode-aware), BERTScore and
COMET (toolkit.evaluation.neural), with bootstrap confidence intervals and paired significance
tests against a baseline.

    from toolkit.evaluation import evaluate
    result = evaluate(hypotheses, references, task="translation", lang="en")
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.evaluation.metrics import (
    EXTRACT_SLICE,
    SUMMARIZATION_METRICS,
    TRANSLATION_METRICS,
    MetricScore,
    SacreMetric,
    build_metrics,
    hint_compiled_ter,
)
from toolkit.evaluation.neural import NeuralOptions
from toolkit.evaluation.rouge import ROUGE
from toolkit.evaluation.significance import resample
from toolkit.text.languages import check_language
from toolkit.text.tokenize import UnicodeTokenizer

__all__ = ["ROUGE", "NeuralOptions", "UnicodeTokenizer", "default_metrics", "evaluate"]

TASKS = ("translation", "summarization")


def default_metrics(task: str) -> list[str]:
    return list(TRANSLATION_METRICS if task == "translation" else SUMMARIZATION_METRICS)


def evaluate(hypotheses: Sequence[str], references: Sequence[Sequence[str]], task: str = "translation",
             metrics: Sequence[str] | None = None, lang: str = "en", stem: str | bool = "auto",
             bootstrap: int = 1000, seed: int = 12345, baseline: Sequence[str] | None = None,
             keys: Sequence[tuple[str, int]] | None = None, jobs: int = 1, lsum_split: str = "newline",
             neural: NeuralOptions | None = None, sources: Sequence[str] | None = None, *,
             _release: bool = False) -> dict[str, Any]:
    """Score aligned hypotheses against ``references[i]`` (the references of segment i).

    Returns a JSON-ready dict: every corpus score with its bootstrap CI and signature, per-segment
    chrF for translation, and with ``baseline`` the paired difference, its CI and p-values.
    ``jobs`` processes extract per-segment statistics of large corpora (0: one per CPU, at most 8; the
    CLI's default). Workers are spawned, so a script calling this with ``jobs != 1`` needs the usual
    ``if __name__ == "__main__":`` guard.
    ``stem`` (auto|yes|no) and ``lsum_split`` (newline|sentences) are ROUGE's conventions; ``neural``
    picks the models and device of ``bertscore``/``comet``; ``sources`` (the source text of each
    segment) are what ``comet`` reads besides hypotheses and references.
    """
    if task not in TASKS:
        raise ToolkitError(f"unknown task '{task}' (expected translation or summarization)")
    if len(hypotheses) != len(references):
        raise ToolkitError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ToolkitError("empty hypothesis: nothing to evaluate")
    if bootstrap < 1:
        raise ToolkitError("--bootstrap must be a positive integer")
    if baseline is not None and len(baseline) != len(hypotheses):
        raise ToolkitError(f"baseline has {len(baseline)} segments but the system has {len(hypotheses)}")
    if sources is not None and len(sources) != len(hypotheses):
        raise ToolkitError(f"{len(sources)} sources but {len(hypotheses)} hypotheses")
    lang = check_language(lang)
    objects = build_metrics(metrics or default_metrics(task), lang, stem, lsum_split, neural, sources)
    keys = list(keys) if keys is not None else [("", i) for i in range(len(hypotheses))]
    result: dict[str, Any] = {
        "task": task,
        "lang": lang,
        "segments_count": len(hypotheses),
        "documents_count": len({d for d, _ in keys}),
        "unit": "segment" if task == "translation" else "document",
        "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": 0.95, "method": "percentile"},
        "scores": [],
    }
    with _pool(jobs, len(hypotheses)) as pool:
        _score(result, objects, hypotheses, references, baseline, bootstrap, seed, keys, task, lang, pool, _release)
    return result


def _pool(jobs: int, segments: int) -> AbstractContextManager[Executor | None]:
    """Worker processes for statistics extraction, only where there is more than one slice to share."""
    if jobs < 0:
        raise ToolkitError("--jobs must be 0 (one per CPU) or a positive number")
    workers = jobs or min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    slices = -(-segments // EXTRACT_SLICE)
    if workers < 2 or slices < 2:
        return nullcontext(None)
    return _workers(min(workers, slices))


@contextmanager
def _workers(count: int) -> Iterator[Executor]:
    """A spawned process pool that, on an error or Ctrl-C, drops the slices not yet started: every
    metric's slices are queued up front, and the error should not wait for all of them to run."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # waits only for the slices already running
        raise
    pool.shutdown(wait=True)


def _score(result: dict[str, Any], objects: list[Any], hypotheses: Sequence[str], references: Sequence[Sequence[str]],
           baseline: Sequence[str] | None, bootstrap: int, seed: int, keys: list[tuple[str, int]], task: str, lang: str,
           pool: Executor | None, release: bool = False) -> None:
    """``release`` (evaluate_paths, which owns the lists): references and baseline texts are emptied
    once every statistic is extracted, and statistics once resampled, so that at 100k segments they
    do not sit beside the segment-level report."""
    chrf_scores = None
    scored, base_scored, stats, base_stats = [], [], [], []
    hint_compiled_ter(objects, len(hypotheses))
    # sacrebleu metrics queue all their slices on the pool first, so the workers go from one metric
    # to the next without waiting for this process; the others compute when their turn comes.
    pending = [(metric, _start(metric, hypotheses, references, pool),
                _start(metric, baseline, references, pool) if baseline is not None else None) for metric in objects]
    for metric, system_score, baseline_score in pending:
        scored.append(system_score())
        if task == "translation" and isinstance(metric, SacreMetric) and metric.name == "chrf":
            chrf_scores = metric.segment_scores(scored[-1].stats)
        stats.append(_take_stats(scored[-1]))
        if baseline_score is not None:
            base_scored.append(baseline_score())
            base_stats.append(_take_stats(base_scored[-1]))
    if task == "translation" and chrf_scores is None:
        chrf = SacreMetric("chrf", lang)
        chrf_scores = chrf.segment_scores(chrf.compute(hypotheses, references, pool).stats)
    if release:
        for texts in (references, baseline):
            if isinstance(texts, list):
                texts.clear()
    drawn = resample(stats, [m.from_sums for m in objects], bootstrap, seed, base_stats if baseline is not None else None)
    stats.clear()
    base_stats.clear()
    for score, (low, high) in zip(scored, drawn.system_ci):
        result["scores"].append({"metric": score.name, "score": score.score, "ci_low": low, "ci_high": high,
                                 "signature": score.signature, "higher_is_better": score.higher_is_better})
    baseline_scores, comparisons = [], []
    if baseline is not None and drawn.baseline_ci is not None and drawn.paired is not None:
        for score, base, (b_low, b_high), test in zip(scored, base_scored, drawn.baseline_ci, drawn.paired):
            baseline_scores.append({"metric": base.name, "score": base.score, "ci_low": b_low, "ci_high": b_high,
                                    "signature": base.signature, "higher_is_better": base.higher_is_better})
            better = (test.delta > 0) == score.higher_is_better and test.delta != 0
            comparisons.append({"metric": score.name, "system": score.score, "baseline": base.score,
                                "delta": test.delta, "ci_low": test.ci_low, "ci_high": test.ci_high,
                                "p_bootstrap": test.p_bootstrap, "p_randomization": test.p_randomization,
                                "system_better": better})
    if baseline is not None:
        result["baseline"] = {"scores": baseline_scores, "comparison": comparisons,
                              "tests": "paired bootstrap resampling and approximate randomization as sacrebleu "
                              "(--paired-bs, --paired-ar), ties counted as extreme"}
    if chrf_scores is not None:
        result["segments"] = [
            {"doc_id": d, "segment": i, "chrf": s, "hypothesis": h} for (d, i), s, h in zip(keys, chrf_scores, hypotheses)
        ]


def _start(metric: Any, hypotheses: Sequence[str], references: Sequence[Sequence[str]],
           pool: Executor | None) -> Callable[[], MetricScore]:
    if isinstance(metric, SacreMetric):
        return metric.submit(hypotheses, references, pool)
    return functools.partial(metric.compute, hypotheses, references, pool)


def _take_stats(score: MetricScore) -> np.ndarray:
    """A score's per-segment statistics, which the score object no longer holds."""
    stats, score.stats = score.stats, np.empty((0, score.stats.shape[1]))
    return stats


def evaluate_paths(hyp: str, refs: Sequence[str], task: str | None = None, metrics: Sequence[str] | None = None,
                   lang: str | None = None, stem: str | bool = "auto", bootstrap: int = 1000, seed: int = 12345,
                   baseline: str | None = None, jobs: int = 1, lsum_split: str = "newline",
                   neural: NeuralOptions | None = None, src: str | None = None) -> dict[str, Any]:
    """``evaluate`` on files: run folders, JSONL or plain text, matched by document id.

    Source texts (for COMET) come from ``src`` (text or JSONL), else from the hypotheses' own run
    folder or JSONL ``source`` fields, else from the references'."""
    from toolkit.evaluation.data import align, align_sources, load_segments, merge_references

    if not refs:
        raise ToolkitError("--ref is required")
    if task is not None and task not in TASKS:
        raise ToolkitError(f"unknown task '{task}' (expected translation or summarization)")
    hyp_segments = load_segments(hyp, "hyp", task)
    ref_segments = merge_references([load_segments(r, "ref", task) for r in refs])
    task = task or hyp_segments.task or ref_segments.task or "translation"
    keys, hypotheses, references = align(hyp_segments, ref_segments)
    lang = lang or hyp_segments.lang or "en"
    if src is not None:
        sources = align_sources(keys, load_segments(src, "src", task))
    else:
        sources = align_sources(keys, hyp_segments, quiet=True) or align_sources(keys, ref_segments, quiet=True)
    del hyp_segments  # its ids and per-segment lists: only the aligned texts are needed now
    baseline_texts = None
    if baseline is not None:
        _, baseline_texts, _ = align(load_segments(baseline, "hyp", task), ref_segments)
    del ref_segments
    result = evaluate(hypotheses, references, task, metrics, lang, stem, bootstrap, seed, baseline_texts, keys, jobs,
                      lsum_split, neural, sources, _release=True)
    result["hyp"] = hyp
    result["ref"] = list(refs)
    if baseline is not None:
        result["baseline"]["path"] = baseline
    return result
