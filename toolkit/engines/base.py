"""Generation with a seq2seq model: token-budget batching over length-sorted inputs.

The engine knows nothing of documents; it turns a list of source texts into outputs and counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ToolkitError
from toolkit.options import EngineOptions

if TYPE_CHECKING:
    from toolkit.models.hub import ModelRef

# Generation settings a user may override; everything else stays as the model's config has it.
GENERATION_KEYS = (
    "num_beams",
    "max_length",
    "max_new_tokens",
    "min_length",
    "min_new_tokens",
    "length_penalty",
    "no_repeat_ngram_size",
    "repetition_penalty",
    "early_stopping",
    "forced_bos_token_id",
)


def pick_device(device: str) -> str:
    """'auto' → 'cuda' when PyTorch sees a GPU, else 'cpu'; 'cuda' without a GPU is a user error."""
    import torch

    return resolve_device(device, torch.cuda.is_available(), "PyTorch")


def resolve_device(device: str, has_gpu: bool, library: str) -> str:
    """Check ``device`` (auto, cpu, cuda[:N]) against whether ``library`` can use a GPU here."""
    if device == "auto":
        return "cuda" if has_gpu else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ToolkitError(f"--device {device}: expected auto, cpu or cuda")
    if device.startswith("cuda") and not has_gpu:
        raise ToolkitError(f"--device cuda: {library} sees no CUDA GPU here (use --device cpu)")
    return device


def generation_settings(config: Any, overrides: dict[str, Any],
                        task_defaults: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The settings generation will use: the model's generation config, then its task-specific
    defaults (``config.task_specific_params``, as older checkpoints keep them), then the user's
    overrides. Returns (settings, names of overridden keys). Sampling is always off."""
    settings: dict[str, Any] = {key: getattr(config, key, None) for key in GENERATION_KEYS}
    settings = {k: v for k, v in settings.items() if v is not None}
    for key, value in (task_defaults or {}).items():
        if key in GENERATION_KEYS and value is not None:
            settings[key] = value
    if "max_new_tokens" in settings:
        settings.pop("max_length", None)
    overridden = []
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in GENERATION_KEYS:
            raise ToolkitError(f"unknown generation setting '{key}'")
        settings[key] = value
        overridden.append(key)
    if "max_new_tokens" in overrides and overrides["max_new_tokens"] is not None:
        settings.pop("max_length", None)
    if "max_length" in settings:
        # max_length counts the decoder start token: below 2 nothing can be generated at all.
        settings["max_length"] = max(2, int(settings["max_length"]))
        if "min_length" in settings:  # a model's own minimum may exceed a user's shorter maximum
            settings["min_length"] = min(int(settings["min_length"]), settings["max_length"])
    if "max_new_tokens" in settings and "min_new_tokens" in settings:
        settings["min_new_tokens"] = min(int(settings["min_new_tokens"]), int(settings["max_new_tokens"]))
    settings.setdefault("num_beams", 1)
    settings["do_sample"] = False
    return settings, overridden


def input_limit(tokenizer: Any, config: Any) -> int:
    """The most source tokens (special tokens included) the model accepts in one input."""
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(usable) if usable else 512


def make_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most ``batch_size`` items and at most ``max_batch_tokens`` padded tokens
    (items × longest item), so memory stays bounded whatever the input.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) >= batch_size or longest * (len(current) + 1) > max_batch_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


@dataclass
class Generated:
    text: str
    source_tokens: int
    output_tokens: int
    hit_length_limit: bool
    # Mean log-probability of the chosen tokens (toolkit/engines/confidence.py); None if unknown.
    confidence: float | None = None
    # The next best hypotheses of an n-best decoding (``Engine.hypotheses``), best first.
    alternatives: list[str] = field(default_factory=list)


@dataclass
class Decoded:
    """One output of a backend: its text and how many tokens it spent (end token included)."""

    text: str
    output_tokens: int
    hit_length_limit: bool
    confidence: float | None = None
    alternatives: list[str] = field(default_factory=list)


class Engine:
    """One interface over backends. The batching loop is written once, here: a backend supplies
    ``decode_batches`` (token ids in, decoded outputs out, batch by batch, in order),
    ``output_limit`` and ``describe``; ``load`` builds it from a resolved model.
    """

    backend = "none"

    def __init__(self, tokenizer: Any, device: str, settings: dict[str, Any], options: EngineOptions,
                 prefix: str, config: Any) -> None:
        self.tokenizer = tokenizer
        self.device = device
        self.settings = settings
        self.options = options
        self.batch_size = options.batch_size
        self.max_batch_tokens = options.max_batch_tokens
        self.prefix = prefix
        self.input_limit = input_limit(tokenizer, config)
        # Set by backends.load_engine: what was loaded, what the user overrode, why this backend.
        self.ref: ModelRef | None = None
        self.overridden: list[str] = []
        self.backend_note: str | None = None

    @classmethod
    def load(cls, ref: ModelRef, tokenizer: Any, config: Any, generation: Any, settings: dict[str, Any],
             options: EngineOptions, prefix: str) -> Engine:
        raise NotImplementedError

    def manifest(self) -> dict[str, Any]:
        """The manifest's account of the model, the backend and the settings actually used."""
        return {
            "model": self.ref.to_dict() if self.ref else None, "backend": self.backend,
            "backend_note": self.backend_note, "device": self.device, "generation": self.settings,
            "overridden": self.overridden, "batch_size": self.batch_size, "max_batch_tokens": self.max_batch_tokens,
            "input_limit": self.input_limit, "prefix": self.prefix,
            "engine_options": self.options.model_dump(), **self.describe(),
        }

    def with_settings(self, overrides: dict[str, Any]) -> Engine:
        """The same loaded model decoding with these generation settings changed (nothing is
        loaded again; the copy shares the model with this engine)."""
        import copy

        other = copy.copy(self)
        other.settings = {**self.settings, **overrides}
        other.overridden = sorted(set(self.overridden) | set(overrides))
        other.settings_changed()
        return other

    def settings_changed(self) -> None:
        """Called on a copy whose ``settings`` changed (a backend that derives options from them)."""

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(self.prefix + text)["input_ids"])

    def generate(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> list[Generated]:
        """Outputs for ``texts``, in order, decoded in length-sorted batches within the budget."""
        return self._generate(texts, on_batch, 1)

    def hypotheses(self, texts: Sequence[str], count: int) -> list[list[str]]:
        """The ``count`` best hypotheses of a beam search for each text, best first (fewer where the
        backend finds fewer). The search uses the model's settings with ``num_beams`` raised to
        ``count`` where it is smaller, so its best hypothesis may differ from ``generate``'s output:
        callers take the translation from ``generate`` and only the alternatives from here."""
        if count < 1:
            raise ValueError("count must be at least 1")
        return [[g.text, *g.alternatives] for g in self._generate(texts, None, count)]

    def nbest_beams(self, count: int) -> int:
        """The beams of an n-best search for ``count`` hypotheses: the model's, or ``count`` if more."""
        return max(int(self.settings.get("num_beams", 1)), count)

    def _generate(self, texts: Sequence[str], on_batch: Callable[[int], None] | None,
                  hypotheses: int) -> list[Generated]:
        if not texts:
            return []
        encoded = self.tokenizer([self.prefix + t for t in texts])["input_ids"]
        lengths = [len(ids) for ids in encoded]
        batches = self.plan_batches(lengths)
        results: list[Generated | None] = [None] * len(texts)
        inputs = [[encoded[i] for i in b] for b in batches]
        # One hypothesis: the one-argument call every caller (and the speed benchmark's probe) knows.
        outputs = self.decode_batches(inputs) if hypotheses == 1 else self.decode_batches(inputs, hypotheses)
        for batch, decoded in zip(batches, outputs):
            for index, output in zip(batch, decoded):
                results[index] = Generated(output.text, lengths[index], output.output_tokens, output.hit_length_limit,
                                           output.confidence, output.alternatives)
            if on_batch:
                on_batch(len(batch))
        return [r for r in results if r is not None]

    def plan_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices of the inputs grouped into the batches to decode, in decoding order."""
        return make_batches(lengths, self.batch_size, self.max_batch_tokens)

    def decode_batches(self, batches: Sequence[Sequence[Sequence[int]]],
                       hypotheses: int = 1) -> Iterator[list[Decoded]]:
        """One list of outputs per batch, in order (a backend may keep several in flight).
        ``hypotheses`` > 1: an n-best search, the next best in each output's ``alternatives``."""
        for batch in batches:
            yield self.decode_batch(batch, hypotheses)

    def decode_batch(self, batch: Sequence[Sequence[int]], hypotheses: int = 1) -> list[Decoded]:
        raise NotImplementedError

    def output_limit(self, source_tokens: int) -> int:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags, from /proc/cpuinfo (or the text given); empty where unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def has_native_bf16(flags: set[str] | None = None) -> bool:
    """AVX512-BF16 or AMX: where bfloat16 matrix products run natively on this CPU."""
    flags = cpu_flags() if flags is None else flags
    return "avx512_bf16" in flags or "amx_bf16" in flags


def torch_dtype(dtype: str, device: str, flags: set[str] | None = None) -> str:
    """``auto``: float16 on CUDA, bfloat16 on CPUs with native support, else float32. Without
    native support bfloat16 is emulated on the CPU and slower than float32."""
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        return "float16"
    return "bfloat16" if has_native_bf16(flags) else "float32"


def attention_implementation(device: str, dtype: str) -> str | None:
    """transformers' attention for this device and dtype (None: its default, SDPA).

    On the CPU in bfloat16/float16, PyTorch's SDPA kernel is slower than plain matrix products
    for the short queries of step-by-step decoding: measured on AMD EPYC (AVX512-BF16), eager
    attention decoded 1.35x (MarianMT) and 1.28x (BART) faster in bfloat16, and the same as SDPA
    in float32 (README, "Measured: plain transformers vs toolkit vs CTranslate2").
    """
    return "eager" if device == "cpu" and dtype in ("bfloat16", "float16") else None


class TorchEngine(Engine):
    """transformers' ``generate`` under ``inference_mode``."""

    backend = "torch"

    def __init__(self, tokenizer: Any, model: Any, device: str, settings: dict[str, Any], options: EngineOptions,
                 prefix: str = "") -> None:
        super().__init__(tokenizer, device, settings, options, prefix, model.config)
        self.model = model
        self.dtype = str(next(model.parameters()).dtype).removeprefix("torch.")

    @classmethod
    def load(cls, ref: ModelRef, tokenizer: Any, config: Any, generation: Any, settings: dict[str, Any],
             options: EngineOptions, prefix: str) -> Engine:
        import torch

        from toolkit.models.hub import load_seq2seq_model

        if options.quantization not in (None, "float32", "int8"):
            raise ToolkitError(f"--quantization {options.quantization}: the torch backend takes int8 (dynamic "
                               "quantisation of Linear layers) or float32; the others need --backend ct2")
        device = pick_device(options.device)
        if options.threads:
            torch.set_num_threads(options.threads)
        # Dynamic int8 quantisation takes float32 Linear weights, whatever --dtype says.
        dtype = "float32" if options.quantization == "int8" else torch_dtype(options.dtype, device)
        model = load_seq2seq_model(ref, device, dtype, attention_implementation(device, dtype))
        if options.quantization == "int8":
            if device != "cpu":
                raise ToolkitError("--quantization int8 with --backend torch runs on the CPU only")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return cls(tokenizer, model, device, settings, options, prefix)

    def describe(self) -> dict[str, Any]:
        import torch

        return {"threads": torch.get_num_threads(), "dtype": self.dtype, "dtype_requested": self.options.dtype,
                "quantization": self.options.quantization or "none",
                "attention": getattr(self.model.config, "_attn_implementation", None)}

    def output_limit(self, source_tokens: int) -> int:
        if "max_new_tokens" in self.settings:
            return int(self.settings["max_new_tokens"])
        return int(self.settings.get("max_length", 512)) - 1  # minus the decoder start token

    def decode_batch(self, batch: Sequence[Sequence[int]], hypotheses: int = 1) -> list[Decoded]:
        import torch
        from transformers import LogitsProcessorList

        from toolkit.engines.confidence import ChosenTokenScores

        features = self.tokenizer.pad({"input_ids": list(batch)}, return_tensors="pt")
        features = {k: v.to(self.device) for k, v in features.items()}
        settings = self.settings
        if hypotheses > 1:  # transformers returns the rows of each input together, best first
            settings = {**settings, "num_beams": self.nbest_beams(hypotheses), "num_return_sequences": hypotheses}
        # Confidence is the translation's (a single-hypothesis decoding), never an alternative's.
        eos = self.model.generation_config.eos_token_id
        ends = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        recorder = ChosenTokenScores(int(self.settings.get("num_beams", 1)), ends) \
            if self.options.confidence and hypotheses == 1 else None
        confidences: list[float | None] = [None] * len(batch)
        with torch.inference_mode():
            if recorder is None:
                output = self.model.generate(**features, **settings).cpu()
            else:
                result = self.model.generate(**features, **settings, return_dict_in_generate=True,
                                             logits_processor=LogitsProcessorList([recorder]))
                output = result.sequences.cpu()
        if recorder is not None:
            beam_indices = getattr(result, "beam_indices", None)
            confidences = list(recorder.means(output, 1, beam_indices.cpu() if beam_indices is not None else None,
                                              self.model.generation_config.eos_token_id, self.tokenizer.pad_token_id))
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        pad_id = self.tokenizer.pad_token_id
        start = getattr(self.model.generation_config, "decoder_start_token_id", None)
        decoded = []
        for row, source in enumerate(batch):
            first = row * hypotheses
            ids = output[first]
            produced = int((ids != pad_id).sum()) if pad_id is not None else len(ids)
            if start is not None and len(ids) and int(ids[0]) == start and start != pad_id:
                produced -= 1
            decoded.append(Decoded(texts[first].strip(), produced, produced >= self.output_limit(len(source)),
                                   confidences[row], [t.strip() for t in texts[first + 1:first + hypotheses]]))
        return decoded
