"""Evaluation: BLEU, chrF++, TER (sacrebleu), ROUGE (rouge-score, Unicode-aware), BERTScore and
COMET (toolkit.evaluation.neural), with bootstrap confidence intervals and paired significance
tests against a baseline.

    from toolkit.evaluation import EvaluationOptions, evaluate
    result = evaluate(hypotheses, references, ["bleu", "chrf"], EvaluationOptions(lang="en"))
    result.to_dict()           # the JSON of `toolkit evaluate --json`
    evaluate(hypotheses, references, task="translation", lang="en")   # the same, options as keywords

Metrics are objects of one interface (toolkit.evaluation.base.Metric) built by name from one
registry (toolkit.evaluation.registry).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.evaluation.base import Metric, MetricScore, submit, worker_pool
from toolkit.evaluation.metrics import SacreMetric, hint_compiled_ter
from toolkit.evaluation.options import EvaluationOptions, NeuralOptions
from toolkit.evaluation.registry import MetricContext, build_metrics, default_metrics
from toolkit.evaluation.result import BaselineResult, Bootstrap, Comparison, EvaluationResult, Score, SegmentScore
from toolkit.evaluation.rouge import ROUGE
from toolkit.evaluation.significance import resample
from toolkit.text.languages import check_language
from toolkit.text.tokenize import UnicodeTokenizer

__all__ = ["ROUGE", "EvaluationOptions", "EvaluationResult", "Metric", "NeuralOptions", "UnicodeTokenizer",
           "default_metrics", "evaluate", "evaluate_paths"]


def _options(options: EvaluationOptions | None, settings: dict[str, Any]) -> EvaluationOptions:
    """``options`` with keyword settings (EvaluationOptions' field names) on top."""
    options = options or EvaluationOptions()
    if settings:
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(EvaluationOptions)})
        if unknown:
            raise TypeError(f"evaluate() got unknown settings: {', '.join(unknown)} (EvaluationOptions' fields)")
        # None keeps the option's value, as the old keyword defaults (neural=None, task=None) did.
        options = dataclasses.replace(options, **{k: v for k, v in settings.items() if v is not None})
    options.check()
    return options


def evaluate(hypotheses: Sequence[str], references: Sequence[Sequence[str]], metrics: Sequence[str] | str | None = None,
             options: EvaluationOptions | None = None, *, baseline: Sequence[str] | None = None,
             sources: Sequence[str] | None = None, keys: Sequence[tuple[str, int]] | None = None,
             **settings: Any) -> EvaluationResult:
    """Score aligned hypotheses against ``references[i]`` (the references of segment i).

    ``metrics``: registry names (default: bleu, chrf, ter for translation, rouge for summaries);
    ``options``: an EvaluationOptions, or its fields as keywords (``task="summarization",
    bootstrap=200``). ``baseline``: a second system's hypotheses, for the paired tests; ``sources``:
    the source text of each segment, which ``comet`` reads; ``keys``: (document id, segment number)
    of each segment, for the segment-level report. The caller's lists are never modified.
    """
    return _evaluate(hypotheses, references, metrics, _options(options, settings), baseline, sources, keys)


def _evaluate(hypotheses: Sequence[str], references: Sequence[Sequence[str]], metrics: Sequence[str] | str | None,
              options: EvaluationOptions, baseline: Sequence[str] | None, sources: Sequence[str] | None,
              keys: Sequence[tuple[str, int]] | None, release: bool = False) -> EvaluationResult:
    task = options.task or "translation"
    if len(hypotheses) != len(references):
        raise ToolkitError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ToolkitError("empty hypothesis: nothing to evaluate")
    if baseline is not None and len(baseline) != len(hypotheses):
        raise ToolkitError(f"baseline has {len(baseline)} segments but the system has {len(hypotheses)}")
    if sources is not None and len(sources) != len(hypotheses):
        raise ToolkitError(f"{len(sources)} sources but {len(hypotheses)} hypotheses")
    lang = check_language(options.lang or "en")
    source_lang = check_language(options.src_lang, "--src-lang") if options.src_lang else None
    context = MetricContext(lang, options.stem, options.lsum_split, options.neural, sources, source_lang,
                            options.glossary)
    objects = build_metrics(metrics if metrics is not None else default_metrics(task), context)
    keys = list(keys) if keys is not None else [("", i) for i in range(len(hypotheses))]
    result = EvaluationResult(task, lang, len(hypotheses), len({d for d, _ in keys}),
                              "segment" if task == "translation" else "document", Bootstrap(options.bootstrap, options.seed))
    with worker_pool(options.jobs, len(hypotheses)) as pool:
        _score(result, objects, hypotheses, references, baseline, options, keys, pool, release)
    return result


def _score(result: EvaluationResult, objects: list[Metric], hypotheses: Sequence[str],
           references: Sequence[Sequence[str]], baseline: Sequence[str] | None, options: EvaluationOptions,
           keys: list[tuple[str, int]], pool: Executor | None, release: bool = False) -> None:
    """``release`` (evaluate_paths, which owns the lists): references and baseline texts are emptied
    once every statistic is extracted, and statistics once resampled, so that at 100k segments they
    do not sit beside the segment-level report."""
    chrf: SacreMetric | None = None
    chrf_stats = None
    scored, base_scored, stats, base_stats = [], [], [], []
    hint_compiled_ter(objects, len(hypotheses))
    # Every metric's slices are queued on the pool first, so the workers go from one metric to the
    # next without waiting for this process.
    pending = [(metric, submit(metric, hypotheses, references, pool),
                submit(metric, baseline, references, pool) if baseline is not None else None) for metric in objects]
    for metric, system_score, baseline_score in pending:
        scored.append(system_score())
        if result.task == "translation" and isinstance(metric, SacreMetric) and metric.name == "chrf":
            chrf, chrf_stats = metric, scored[-1].stats
        stats.append(_take_stats(scored[-1]))
        if baseline_score is not None:
            base_scored.append(baseline_score())
            base_stats.append(_take_stats(base_scored[-1]))
    if result.task == "translation" and chrf is None and any(references):  # none: reference-free metrics only
        chrf = SacreMetric("chrf", result.lang)
        chrf_stats = chrf.compute(hypotheses, references, pool).stats
    if release:
        for texts in (references, baseline):
            if isinstance(texts, list):
                texts.clear()
    # After the texts are released: at 100k long segments this is the process's peak.
    chrf_scores = chrf.segment_scores(chrf_stats) if chrf is not None and chrf_stats is not None else None
    del chrf_stats
    drawn = resample(stats, [m.from_sums for m in objects], options.bootstrap, options.seed,
                     base_stats if baseline is not None else None)
    stats.clear()
    base_stats.clear()
    result.scores = [Score(s.name, s.score, low, high, s.signature, s.higher_is_better)
                     for s, (low, high) in zip(scored, drawn.system_ci)]
    if baseline is not None and drawn.baseline_ci is not None and drawn.paired is not None:
        result.baseline = BaselineResult(
            [Score(b.name, b.score, low, high, b.signature, b.higher_is_better) for b, (low, high) in zip(base_scored, drawn.baseline_ci)],
            [Comparison(s.name, s.score, b.score, t.delta, t.ci_low, t.ci_high, t.p_bootstrap, t.p_randomization,
                        (t.delta > 0) == s.higher_is_better and t.delta != 0)
             for s, b, t in zip(scored, base_scored, drawn.paired)])
    if chrf_scores is not None:
        result.segments = [SegmentScore(d, i, s, h) for (d, i), s, h in zip(keys, chrf_scores, hypotheses)]


def _take_stats(score: MetricScore) -> np.ndarray:
    """A score's per-segment statistics, which the score object no longer holds."""
    stats, score.stats = score.stats, np.empty((0, score.stats.shape[1]))
    return stats


def evaluate_paths(hyp: str, refs: Sequence[str], metrics: Sequence[str] | str | None = None,
                   options: EvaluationOptions | None = None, *, baseline: str | None = None, src: str | None = None,
                   **settings: Any) -> EvaluationResult:
    """``evaluate`` on files: run folders, JSONL or plain text, matched by document id (see
    toolkit.evaluation.data.align for a plain-text side against a JSONL one).

    ``options`` (or its fields as keywords): ``task`` and ``lang`` None take the run's manifest's.
    Source texts (for COMET) come from ``src`` (text or JSONL), else from the hypotheses' own run
    folder or JSONL ``source`` fields, else from the references'."""
    from toolkit.evaluation.data import align, align_sources, load_segments, merge_references

    options = _options(options, settings)
    if not refs:
        return _reference_free(hyp, metrics, options, baseline, src)
    hyp_segments = load_segments(hyp, "hyp", options.task)
    ref_segments = merge_references([load_segments(r, "ref", options.task) for r in refs])
    task = options.task or hyp_segments.task or ref_segments.task or "translation"
    keys, hypotheses, references = align(hyp_segments, ref_segments)
    lang = options.lang or hyp_segments.lang or "en"
    if src is not None:
        sources = align_sources(keys, load_segments(src, "src", task))
    else:
        sources = align_sources(keys, hyp_segments, quiet=True) or align_sources(keys, ref_segments, quiet=True)
    del hyp_segments  # its ids and per-segment lists: only the aligned texts are needed now
    baseline_texts = None
    if baseline is not None:
        _, baseline_texts, _ = align(load_segments(baseline, "hyp", task), ref_segments)
    del ref_segments
    result = _evaluate(hypotheses, references, metrics, dataclasses.replace(options, task=task, lang=lang),
                       baseline_texts, sources, keys, release=True)
    result.hyp = hyp
    result.ref = list(refs)
    if baseline is not None and result.baseline is not None:
        result.baseline.path = baseline
    return result



def _reference_free(hyp: str, metrics: Sequence[str] | str | None, options: EvaluationOptions, baseline: str | None,
                    src: str | None) -> EvaluationResult:
    """``evaluate_paths`` without references: only the reference-free metrics (numbers, terms),
    the hypotheses aligned with their sources as ``toolkit review`` aligns them."""
    from toolkit.evaluation.accuracy import REFERENCE_FREE
    from toolkit.evaluation.data import align, align_sources, load_segments
    from toolkit.evaluation.registry import metric_names

    names = metric_names(metrics) if metrics is not None else []
    if not names or any(name not in REFERENCE_FREE for name in names):
        raise ToolkitError("--ref is required (without references only the reference-free metrics score: "
                           "--metrics numbers,terms)")
    task = options.task or "translation"
    if task != "translation":
        raise ToolkitError("numbers and terms score translations: --ref is required for summaries")
    hyp_segments = load_segments(hyp, "hyp", task)
    if src is not None:
        keys, hypotheses, nested = align(hyp_segments, load_segments(src, "src", task))
        sources: list[str] | None = [s[0] for s in nested]
    else:
        keys = hyp_segments.keys or [("", i) for i in range(len(hyp_segments))]
        hypotheses, sources = [t[0] for t in hyp_segments.texts], align_sources(keys, hyp_segments, quiet=True)
    baseline_texts = None
    if baseline is not None:
        # Aligned to the same sources, by the same rule as the system.
        base_segments = load_segments(baseline, "hyp", task)
        if src is not None:
            _, baseline_texts, _ = align(base_segments, load_segments(src, "src", task))
        else:
            _, baseline_texts, _ = align(base_segments, hyp_segments)
    lang = options.lang or hyp_segments.lang or "en"
    references: list[list[str]] = [[] for _ in hypotheses]
    result = _evaluate(hypotheses, references, names, dataclasses.replace(options, task=task, lang=lang),
                       baseline_texts, sources, keys, release=True)
    result.hyp = hyp
    result.ref = []
    if baseline is not None and result.baseline is not None:
        result.baseline.path = baseline
    return result
