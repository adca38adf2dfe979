"""COMET: our implementation of unbabel-comet's ``RegressionMetric`` (Unbabel/wmt22-comet-da,
Unbabel/eamt22-cometinho-da), because unbabel-comet itself cannot be installed beside
transformers 5 (see the README).

A COMET checkpoint is a folder (a hub snapshot or a local one) holding ``hparams.yaml`` and
``checkpoints/model.ckpt``. As ``comet.load_from_checkpoint`` does, the encoder is built from the
configuration of the ``pretrained_model`` named in the hyperparameters, with random weights, and
every weight then comes from the checkpoint. Scoring follows ``comet/models/base.py`` and
``regression/regression_metric.py``: each of source, translation and reference is encoded alone
(tokenizer truncation at ``max_position_embeddings - 4`` tokens), the hidden states of all layers
are mixed by the layer-wise attention (softmax or sparsemax weights, optional masked layer norm,
times gamma) or one layer is taken, pooled (avg over non-padding tokens, max, cls), and the
feed-forward estimator reads ``[mt, ref, mt·ref, |mt-ref|, mt·src, |mt-src|]``. tests/test_comet.py
checks the scores equal unbabel-comet 2.2.7's on tiny checkpoints built there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from toolkit.errors import ModelError

CHECKPOINT = Path("checkpoints") / "model.ckpt"
# encoder_model of hparams.yaml → (transformers architecture, where the tokenizer comes from).
# MiniLM is a BERT model with XLM-R's tokenizer, which unbabel-comet always loads from
# xlm-roberta-base (comet/encoders/minilm.py); XLM-R's comes from pretrained_model itself.
ENCODERS = {"XLM-RoBERTa": ("xlm-roberta", None), "MiniLM": ("bert", "xlm-roberta-base")}
UNSUPPORTED_CLASSES = {
    "unified_metric": "a UnifiedMetric checkpoint (CometKiwi-style)",
    "xcomet_metric": "an XCOMET checkpoint",
    "referenceless_regression_metric": "a reference-free (QE) checkpoint",
    "ranking_metric": "a ranking checkpoint",
}
# RegressionMetric's own defaults, for keys a checkpoint's hyperparameters leave out.
DEFAULTS: dict[str, Any] = {"encoder_model": "XLM-RoBERTa", "pretrained_model": "xlm-roberta-large", "pool": "avg",
                            "layer": "mix", "layer_transformation": "softmax", "layer_norm": True,
                            "hidden_sizes": [3072, 1024], "activations": "Tanh", "final_activation": None}


@dataclass(frozen=True)
class CometSettings:
    """What of a checkpoint's hyperparameters decides its scores."""

    encoder_model: str
    pretrained_model: str
    pool: str
    layer: str | int
    layer_transformation: str  # "sparsemax", anything else is softmax (as unbabel-comet reads it)
    layer_norm: bool
    hidden_sizes: tuple[int, ...]
    activations: str
    final_activation: str | None

    @classmethod
    def from_hparams(cls, hparams: dict[str, Any], where: str) -> CometSettings:
        values = {**DEFAULTS, **{k: hparams[k] for k in DEFAULTS if k in hparams}}
        try:
            settings = cls(str(values["encoder_model"]), str(values["pretrained_model"]), str(values["pool"]),
                           values["layer"] if values["layer"] == "mix" else int(values["layer"]),
                           str(values["layer_transformation"]), bool(values["layer_norm"]),
                           tuple(int(h) for h in values["hidden_sizes"]), str(values["activations"]),
                           None if values["final_activation"] is None else str(values["final_activation"]))
        except (TypeError, ValueError):
            raise ModelError(f"{where}: malformed COMET hyperparameters (layer, hidden_sizes)") from None
        if settings.encoder_model not in ENCODERS:
            raise ModelError(f"{where}: encoder_model {settings.encoder_model!r} is not supported "
                             f"(supported: {', '.join(ENCODERS)})")
        if settings.pool not in ("avg", "max", "cls", "default"):
            raise ModelError(f"{where}: pool {settings.pool!r} is not one of avg, max, cls, default")
        if not settings.hidden_sizes:
            raise ModelError(f"{where}: hidden_sizes is empty")
        for name in (settings.activations, settings.final_activation):
            if name is not None and not hasattr(nn, name.title()):
                raise ModelError(f"{where}: {name!r} is not a PyTorch activation")
        return settings


def read_hparams(folder: Path, reference: str) -> dict[str, Any]:
    """``hparams.yaml`` of a COMET folder, checked to be a RegressionMetric's."""
    import yaml

    path = folder / "hparams.yaml"
    if not path.is_file():
        raise ModelError(f"COMET model {reference}: no hparams.yaml in {folder}")
    try:
        hparams = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelError(f"COMET model {reference}: {path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(hparams, dict):
        raise ModelError(f"COMET model {reference}: {path} is not a mapping of hyperparameters")
    kind = hparams.get("class_identifier")
    if kind in UNSUPPORTED_CLASSES:
        raise ModelError(f"COMET model {reference} is {UNSUPPORTED_CLASSES[kind]} ({kind}); toolkit implements "
                         "only RegressionMetric checkpoints such as Unbabel/wmt22-comet-da")
    if kind != "regression_metric":
        raise ModelError(f"COMET model {reference}: {path} has class_identifier {kind!r}, not regression_metric")
    return hparams


def load_checkpoint(path: Path, reference: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and the hyperparameters stored in ``model.ckpt`` (tensors only: nothing is unpickled
    beyond weights and plain values)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError… for a bad file
        # torch's own messages (a bare opcode number, advice to drop weights_only) do not help here.
        logging.getLogger(__name__).debug("torch.load(%s) failed: %s", path, exc)
        raise ModelError(f"COMET model {reference}: cannot read {path} (not a PyTorch checkpoint of tensors and "
                         "plain values)") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ModelError(f"COMET model {reference}: {path} is not a COMET checkpoint (no state_dict)")
    hparams = checkpoint.get("hyper_parameters")
    return checkpoint["state_dict"], dict(hparams) if isinstance(hparams, dict) else {}


def sparsemax(scores: torch.Tensor) -> torch.Tensor:
    """Sparsemax of a vector (Martins & Astudillo 2016), the ``entmax.sparsemax`` unbabel-comet uses."""
    ordered, _ = torch.sort(scores, descending=True)
    cumulative = ordered.cumsum(0) - 1
    ranks = torch.arange(1, scores.numel() + 1, device=scores.device, dtype=scores.dtype)
    support = int((ranks * ordered > cumulative).sum())
    threshold = cumulative[support - 1] / support
    return torch.clamp(scores - threshold, min=0)


def masked_layer_norm(tensor: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Normalise each sentence's hidden states by their mean and variance over its non-padding tokens."""
    broadcast = mask.unsqueeze(-1)
    count = mask.sum(1) * tensor.size(-1)
    batch = tensor.size(0)
    mean = ((tensor * broadcast).view(batch, -1).sum(1) / count).view(batch, 1, 1)
    variance = (((tensor * broadcast - mean) * broadcast) ** 2).view(batch, -1).sum(1) / count
    return (tensor - mean) / torch.sqrt(variance + 1e-12).view(batch, 1, 1)


class RegressionScorer(nn.Module):
    """The scoring part of a RegressionMetric: encoder, layer mix, pooling and estimator, in eval mode."""

    def __init__(self, settings: CometSettings, encoder: Any, tokenizer: Any) -> None:
        super().__init__()
        self.settings = settings
        self.encoder = encoder
        self.tokenizer = tokenizer
        config: Any = encoder.config
        self.num_layers = int(config.num_hidden_layers) + 1  # the embeddings' output and every layer's
        # Tokenizer truncation as comet/encoders/base.py: max_positions - 2, max_positions = max_position_embeddings - 2.
        self.max_length = int(config.max_position_embeddings) - 4
        hidden = int(config.hidden_size)
        self.layer_weights = nn.Parameter(torch.zeros(self.num_layers))
        self.gamma = nn.Parameter(torch.ones(1))
        layers: list[nn.Module] = []
        sizes = [hidden * 6, *settings.hidden_sizes]
        for size_in, size_out in zip(sizes, sizes[1:]):
            # Dropout keeps the layer indices of unbabel-comet's FeedForward (ff.0, ff.3, …); a no-op in eval.
            layers += [nn.Linear(size_in, size_out), getattr(nn, settings.activations.title())(), nn.Dropout(0.0)]
        layers.append(nn.Linear(sizes[-1], 1))
        if settings.final_activation is not None:
            layers.append(getattr(nn, settings.final_activation.title())())
        self.estimator = nn.Sequential(*layers)
        if isinstance(settings.layer, int) and not 0 <= settings.layer < self.num_layers:
            raise ModelError(f"COMET layer {settings.layer} is out of range: the encoder has {self.num_layers} layers")

    def load_weights(self, state: dict[str, torch.Tensor], reference: str) -> None:
        """Copy the checkpoint's weights; any weight the scores depend on must be there."""
        mine: dict[str, torch.Tensor] = {}
        scalars: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            if key.startswith("encoder.model."):
                mine["encoder." + key[len("encoder.model."):]] = value
            elif key.startswith("estimator.ff."):
                mine["estimator." + key[len("estimator.ff."):]] = value
            elif key == "layerwise_attention.gamma":
                mine["gamma"] = value.reshape(1)
            elif key.startswith("layerwise_attention.scalar_parameters."):
                scalars[key.rsplit(".", 1)[1]] = value
        if len(scalars) == self.num_layers and all(str(i) in scalars for i in range(self.num_layers)):
            mine["layer_weights"] = torch.cat([scalars[str(i)].reshape(1) for i in range(self.num_layers)])
        # The pooler (MiniLM's BERT has one) and position_ids are never used for scores.
        expected = {k for k in self.state_dict() if not k.startswith("encoder.pooler.") and "position_ids" not in k}
        if self.settings.layer != "mix":
            expected -= {"layer_weights", "gamma"}
        missing = sorted(expected - set(mine))
        if missing:
            raise ModelError(f"COMET model {reference}: the checkpoint lacks weights this model needs "
                             f"({', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); is it a RegressionMetric "
                             f"with encoder {self.settings.pretrained_model}?")
        try:
            self.load_state_dict(mine, strict=False)
        except RuntimeError as exc:
            raise ModelError(f"COMET model {reference}: its weights do not fit encoder {self.settings.pretrained_model} "
                             f"({str(exc).strip().splitlines()[-1].strip()[:200]})") from None

    def embed(self, texts: Sequence[str], device: str) -> torch.Tensor:
        """Sentence embeddings of a batch of texts."""
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True,
                               max_length=self.max_length)
        input_ids = batch["input_ids"].to(device)
        attention_mask = batch["attention_mask"].to(device)
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        states = output.hidden_states
        if self.settings.layer == "mix":
            if self.settings.layer_transformation == "sparsemax":
                weights = sparsemax(self.layer_weights)
            else:
                weights = torch.softmax(self.layer_weights, dim=0)
            mask = attention_mask.float()
            pieces = [w * (masked_layer_norm(h, mask) if self.settings.layer_norm else h)
                      for w, h in zip(torch.split(weights, 1), states)]
            embeddings = self.gamma * sum(pieces)
        else:
            embeddings = states[int(self.settings.layer)]
        padding = input_ids.eq(self.tokenizer.pad_token_id).unsqueeze(-1)
        if self.settings.pool == "avg":
            summed = embeddings.float().masked_fill(padding, 0.0).type_as(embeddings).sum(1)
            return summed / attention_mask.unsqueeze(-1).expand(embeddings.size()).float().sum(1)
        if self.settings.pool == "max":
            return embeddings.float().masked_fill(padding, float("-inf")).type_as(embeddings).max(dim=1)[0]
        if self.settings.pool == "cls":
            return embeddings[:, 0, :]
        return output.last_hidden_state[:, 0, :]  # "default": the encoder's sentemb, its first token

    def estimate(self, src: torch.Tensor, mt: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        features = torch.cat((mt, ref, mt * ref, torch.abs(mt - ref), mt * src, torch.abs(mt - src)), dim=1)
        return self.estimator(features).view(-1)

    @torch.inference_mode()
    def score(self, sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[Sequence[str]],
              batch_size: int, device: str, on_batch: Callable[[int], None] | None = None) -> list[float]:
        """One score per segment (× 1, as unbabel-comet's); with several references, their mean.

        Segments are batched in order of source length, as unbabel-comet's ``predict`` does, to pad
        less; ``on_batch`` hears how many segments each batch scored."""
        order = sorted(range(len(hypotheses)), key=lambda i: len(sources[i]))
        scores = [0.0] * len(hypotheses)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            src = self.embed([sources[i] for i in index], device)
            mt = self.embed([hypotheses[i] for i in index], device)
            totals = torch.zeros(len(index), dtype=torch.float64)
            counts = [len(references[i]) for i in index]
            for depth in range(max(counts)):
                rows = [j for j, i in enumerate(index) if depth < len(references[i])]
                ref = self.embed([references[index[j]][depth] for j in rows], device)
                totals[rows] += self.estimate(src[rows], mt[rows], ref).double().cpu()
            for j, i in enumerate(index):
                scores[i] = float(totals[j]) / counts[j]
            if on_batch is not None:
                on_batch(len(index))
        if any(math.isnan(s) for s in scores):
            raise ModelError("COMET produced NaN scores (an empty segment?)")
        return scores


@dataclass(frozen=True)
class CometModel:
    """A COMET checkpoint resolved to a folder, with its settings and its encoder's files (no weights loaded)."""

    reference: str
    path: Path
    identity: str  # hub commit, or the first 12 hex digits of the folder's content hash
    settings: CometSettings
    encoder: Any  # toolkit.models.hub.ModelRef of pretrained_model (its config)
    tokenizer: Any  # ModelRef of the tokenizer's folder


def resolve_comet(reference: str) -> CometModel:
    """A hub id (from the local Hugging Face cache) or a local folder with hparams.yaml and checkpoints/model.ckpt."""
    from toolkit.models.hub import cached_snapshot, directory_hash, hub_offline, is_hub_id, resolve_model

    path = Path(reference).expanduser()
    if path.is_dir():
        folder, identity = path.resolve(), ""
    elif path.exists():
        raise ModelError(f"COMET model {reference}: is a file; give the folder holding hparams.yaml and {CHECKPOINT}")
    elif not is_hub_id(reference):
        raise ModelError(f"COMET model {reference}: no such folder, and not a Hugging Face model id")
    else:
        snapshot = cached_snapshot(reference)
        if snapshot is None or not (snapshot / CHECKPOINT).is_file():
            why = "offline mode is on (HF_HUB_OFFLINE=1)" if hub_offline() else "evaluation never downloads"
            raise ModelError(f"COMET model {reference} is not in the local Hugging Face cache and {why}: run "
                             f"`toolkit models download {reference}` where there is network, or pass a local folder")
        folder, identity = snapshot, snapshot.name
    if not (folder / CHECKPOINT).is_file():
        raise ModelError(f"COMET model {reference}: no {CHECKPOINT} in {folder}")
    hparams = read_hparams(folder, reference)
    settings = CometSettings.from_hparams(hparams, f"COMET model {reference}: {folder / 'hparams.yaml'}")
    tokenizer_source = ENCODERS[settings.encoder_model][1]
    try:
        encoder = resolve_model(settings.pretrained_model, allow_download=False)
        tokenizer = resolve_model(tokenizer_source, allow_download=False) if tokenizer_source else encoder
    except ModelError as exc:
        raise ModelError(f"COMET model {reference} needs the configuration and tokenizer of its encoder "
                         f"(pretrained_model in hparams.yaml): {exc}") from None
    return CometModel(reference, folder, identity or directory_hash(folder)[:12], settings, encoder, tokenizer)


def build_scorer(model: CometModel, device: str) -> RegressionScorer:
    """Encoder from its configuration (random weights), then every weight from the checkpoint, as
    ``comet.load_from_checkpoint`` does (``load_pretrained_weights=False``)."""
    from transformers import AutoConfig, BertModel, XLMRobertaModel, XLMRobertaTokenizer

    from toolkit.runtime import quiet_libraries

    quiet_libraries()
    state, stored = load_checkpoint(model.path / CHECKPOINT, model.reference)
    # unbabel-comet builds the model from the checkpoint's own hyperparameters; hparams.yaml names the class.
    settings = model.settings
    if stored:
        merged = {**{k: getattr(settings, k) for k in DEFAULTS}, **{k: stored[k] for k in DEFAULTS if k in stored}}
        if merged.get("layer_transformation") == "sparsemax_patch" or settings.layer_transformation == "sparsemax_patch":
            merged["layer_transformation"] = "softmax"  # comet ≥ 2.2.4's override (its issue #244)
        settings = CometSettings.from_hparams(merged, f"COMET model {model.reference}: {CHECKPOINT}")
    architecture = ENCODERS[settings.encoder_model][0]
    try:
        config = AutoConfig.from_pretrained(model.encoder.path)
        tokenizer = XLMRobertaTokenizer.from_pretrained(model.tokenizer.path)  # both encoders use XLM-R's
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"COMET encoder {settings.pretrained_model}: cannot be loaded "
                         f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from None
    if config.model_type != architecture:
        raise ModelError(f"COMET encoder {settings.pretrained_model}: a {config.model_type} model, but "
                         f"{settings.encoder_model} needs {architecture}")
    # Random weights, every one of them overwritten from the checkpoint below.
    encoder = XLMRobertaModel(config, add_pooling_layer=False) if architecture == "xlm-roberta" else BertModel(config)
    scorer = RegressionScorer(settings, encoder, tokenizer)
    scorer.load_weights(state, model.reference)
    return scorer.to(device).eval()
