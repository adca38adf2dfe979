"""Neural metrics: BERTScore (bert-score) and COMET (our implementation of unbabel-comet's
RegressionMetric, toolkit.evaluation.comet); BERTScore needs the optional extra ``toolkit[neural]``.

Both are segment-level scores (× 100) averaged over segments, so their statistics are
``[score, 1]`` per segment and the bootstrap intervals and paired tests of
``toolkit.evaluation.significance`` apply unchanged. Models are hub ids (from the local Hugging Face
cache: evaluation never downloads) or local folders, loaded once per process and batched;
``device`` is ``auto`` (CUDA when PyTorch sees a GPU), ``cpu`` or ``cuda``.

unbabel-comet itself is not a dependency: every release (2.2.7 is the latest) requires
``transformers<5``, ``huggingface-hub<1``, ``numpy<2`` and ``protobuf<5``, toolkit needs
``transformers>=5`` and ``huggingface_hub>=1``, and its XLM-R encoder fails under transformers 5 (it
unpacks three outputs from ``XLMRobertaModel(..., return_dict=False)``, which returns two when the
model has no pooler). tests/test_comet.py runs unbabel-comet 2.2.7 in a separate environment
(``.venv-comet-ref``, made by ``make setup-dev``) and checks our scores equal its scores. COMET
needs the source texts; Unbabel's non-commercial models are never a default.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from toolkit.errors import ModelError, ToolkitError
from toolkit.evaluation import base
from toolkit.evaluation.options import NeuralOptions

# bert-score's own defaults (bert_score.utils.lang2model / model2layers): roberta-large, layer 17,
# for English; bert-base-multilingual-cased, layer 9, for other languages.
BERTSCORE_ENGLISH = "roberta-large"
BERTSCORE_MULTILINGUAL = "bert-base-multilingual-cased"
COMET_DEFAULT = "Unbabel/wmt22-comet-da"  # Apache-2.0
COMET_CPU = "Unbabel/eamt22-cometinho-da"  # Apache-2.0, distilled: documented for CPU use
# Unbabel's COMET models under CC BY-NC-SA 4.0: never a default; allowed only when named.
COMET_NON_COMMERCIAL = frozenset({
    "Unbabel/wmt22-cometkiwi-da", "Unbabel/wmt23-cometkiwi-da-xl", "Unbabel/wmt23-cometkiwi-da-xxl",
    "Unbabel/XCOMET-XL", "Unbabel/XCOMET-XXL",
})

def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ToolkitError(f"--device must be auto, cpu or cuda, not '{device}'")
    if device == "cuda" and not torch.cuda.is_available():
        raise ToolkitError("--device cuda: PyTorch sees no CUDA GPU here")
    return device


def _versions(*packages: str) -> str:
    from importlib import metadata

    return "+".join(f"{p}-{metadata.version(p)}" for p in packages)


def _default_layers(reference: str, path: Any) -> int:
    """bert-score's layer for a known model (by id or folder name), else the model's last layer."""
    from bert_score.utils import model2layers

    for name in (reference, str(reference).rstrip("/").split("/")[-1]):
        if name in model2layers:
            return int(model2layers[name])
    layers = model_layers(path)
    if not layers:
        raise ToolkitError(f"--bertscore-model {reference}: cannot tell its number of layers; give --bertscore-layers")
    return layers


def model_layers(path: Any) -> int | None:
    """The number of layers the model's config.json gives (None if it names none)."""
    import json

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    layers = config.get("num_hidden_layers") or config.get("n_layer") or config.get("num_layers")
    return int(layers) if layers else None


@lru_cache(maxsize=4)
def _bert_scorer(path: str, layers: int, device: str, batch_size: int) -> Any:
    """One BERTScorer per (model, layer, device, batch size) and process: loading costs seconds."""
    from bert_score import BERTScorer

    from toolkit.runtime import quiet_libraries

    quiet_libraries()
    try:
        return BERTScorer(model_type=path, num_layers=layers, batch_size=batch_size, device=device, idf=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"BERTScore model {path}: cannot be loaded ({str(exc).splitlines()[0]})") from None


class SegmentAveraged:
    """A metric scored per segment (× 100) and averaged: its statistics are ``[score, 1]`` per
    segment, so the bootstrap intervals and paired tests apply unchanged. Subclasses give ``name``,
    ``display``, ``segment_scores`` and ``signature``. Not ``pooled``: the model is loaded once, in
    this process, and scores the whole corpus in its own batches."""

    name = ""
    display = ""
    higher_is_better = True
    pooled = False

    @staticmethod
    def from_sums(sums: np.ndarray) -> float:
        return float(sums[0] / sums[1])

    def signature(self, nrefs: base.Nrefs) -> str:
        raise NotImplementedError

    def segment_scores(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        raise NotImplementedError

    def statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        scores = self.segment_scores(hypotheses, references)
        return np.array([[s, 1.0] for s in scores], dtype=np.float64).reshape(-1, 2)

    def compute(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]], pool: Any = None) -> base.MetricScore:
        return base.compute(self, hypotheses, references, pool)


class BertScoreMetric(SegmentAveraged):
    """BERTScore F1 × 100 per segment (best reference when there are several), averaged."""

    name = "bertscore"
    display = "BERTScore-F1"

    def __init__(self, lang: str, options: NeuralOptions) -> None:
        try:
            import bert_score  # noqa: F401
        except ImportError:
            raise ToolkitError("bertscore needs the optional extra: pip install 'toolkit[neural]'") from None
        from toolkit.models.hub import resolve_model

        self.reference = options.bertscore_model or (BERTSCORE_ENGLISH if lang == "en" else BERTSCORE_MULTILINGUAL)
        self.model = resolve_model(self.reference, allow_download=False)
        if options.bertscore_layers is not None and options.bertscore_layers < 1:
            raise ToolkitError("--bertscore-layers must be a positive integer")
        self.layers = options.bertscore_layers or _default_layers(self.reference, self.model.path)
        available = model_layers(self.model.path)
        if available is not None and self.layers > available:
            chosen = "--bertscore-layers" if options.bertscore_layers else "bert-score's recommended layer for that name"
            raise ToolkitError(f"--bertscore-model {self.reference}: {chosen} is {self.layers}, but the model has "
                               f"{available} layers; give --bertscore-layers 1..{available}")
        self.device = resolve_device(options.device)
        self.batch_size = options.batch_size

    def signature(self, nrefs: base.Nrefs) -> str:
        identity = self.model.revision or (self.model.content_hash or "")[:12]
        return (f"nrefs:{nrefs}|model:{self.reference}@{identity}|layer:{self.layers}|idf:no|rescale:no|scale:100"
                f"|agg:mean-f1|version:{_versions('bert-score', 'transformers')}")

    def segment_scores(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        scorer = _bert_scorer(str(self.model.path), self.layers, self.device, self.batch_size)
        refs = [[r for r in group if r is not None] for group in references]
        _, _, f1 = scorer.score(list(hypotheses), refs, batch_size=self.batch_size)
        return [float(v) * 100 for v in f1.tolist()]


@lru_cache(maxsize=2)
def _comet_scorer(reference: str, path: str, identity: str, device: str) -> Any:
    """One COMET scorer per (checkpoint, device) and process: loading costs seconds."""
    from toolkit.evaluation.comet import build_scorer, resolve_comet

    return build_scorer(resolve_comet(reference), device)


_COMET_SCORED: dict[tuple[Any, ...], list[float]] = {}  # the last few scorings, by model, device and texts


class CometMetric(SegmentAveraged):
    """COMET × 100 per segment (the mean over references when there are several), averaged."""

    name = "comet"
    display = "COMET"

    def __init__(self, options: NeuralOptions, sources: Sequence[str] | None) -> None:
        from toolkit.evaluation.comet import resolve_comet

        self.reference = options.comet_model or COMET_DEFAULT
        if self.reference in COMET_NON_COMMERCIAL:
            raise ModelError(f"COMET model {self.reference} (CC BY-NC-SA 4.0: non-commercial use only) is a "
                             "UnifiedMetric/XCOMET checkpoint, which toolkit does not implement; use "
                             f"{COMET_DEFAULT} or {COMET_CPU} (Apache-2.0)")
        if sources is None:
            raise ToolkitError("comet needs the source texts: give --src FILE (text or JSONL with 'source'), or "
                               "score a translate run folder, whose manifest holds them")
        self.sources = list(sources)
        self.model = resolve_comet(self.reference)
        self.device = resolve_device(options.device)
        self.batch_size = options.comet_batch_size
        if self.batch_size < 1:
            raise ToolkitError("the COMET batch size must be a positive integer")

    def signature(self, nrefs: base.Nrefs) -> str:
        encoder = self.model.encoder
        identity = encoder.revision or (encoder.content_hash or "")[:12]
        refs = "|mref:mean" if nrefs != 1 else ""
        return (f"nrefs:{nrefs}{refs}|model:{self.reference}@{self.model.identity}"
                f"|encoder:{self.model.settings.pretrained_model}@{identity}|impl:toolkit-regression-metric"
                f"|scale:100|agg:mean|version:{_versions('toolkit', 'transformers', 'torch')}")

    def segment_scores(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        if len(hypotheses) != len(self.sources):
            raise ToolkitError(f"comet: {len(self.sources)} sources but {len(hypotheses)} hypotheses")
        refs = [[r for r in group if r is not None] for group in references]
        key = (self.model.path, self.model.identity, self.device, self.batch_size, tuple(self.sources), tuple(hypotheses),
               tuple(tuple(r) for r in refs))
        if key not in _COMET_SCORED:  # a benchmark scores the same segments for its table and per document
            scorer = _comet_scorer(self.reference, str(self.model.path), self.model.identity, self.device)
            if len(_COMET_SCORED) >= 4:
                _COMET_SCORED.pop(next(iter(_COMET_SCORED)))
            import sys

            from toolkit.runtime import progress

            with progress("COMET", len(hypotheses), sys.stderr.isatty()) as bar:
                scores = scorer.score(self.sources, list(hypotheses), refs, self.batch_size, self.device, bar.advance)
            _COMET_SCORED[key] = [s * 100 for s in scores]
        return list(_COMET_SCORED[key])
