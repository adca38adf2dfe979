"""Generation with a seq2seq model: token-budget batching over length-sorted inputs.

The engine knows nothing of documents; it turns a list of source texts into outputs and counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from toolkit.errors import ToolkitError

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
    settings = {key: getattr(config, key, None) for key in GENERATION_KEYS}
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


class Engine:
    """What every backend shares: tokenizer, settings, batching limits and the source prefix."""

    backend = "none"

    def __init__(self, tokenizer: Any, device: str, settings: dict[str, Any], batch_size: int,
                 max_batch_tokens: int, prefix: str, config: Any) -> None:
        if batch_size < 1:
            raise ToolkitError("--batch-size must be at least 1")
        self.tokenizer = tokenizer
        self.device = device
        self.settings = settings
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.prefix = prefix
        self.input_limit = input_limit(tokenizer, config)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(self.prefix + text)["input_ids"])


class TorchEngine(Engine):
    """transformers' ``generate`` under ``inference_mode``, batched to a token budget."""

    backend = "torch"

    def __init__(self, tokenizer: Any, model: Any, device: str, settings: dict[str, Any],
                 batch_size: int = 16, max_batch_tokens: int = 8192, prefix: str = "") -> None:
        super().__init__(tokenizer, device, settings, batch_size, max_batch_tokens, prefix, model.config)
        self.model = model

    def describe(self) -> dict[str, Any]:
        import torch

        return {"threads": torch.get_num_threads(), "dtype": str(next(self.model.parameters()).dtype)}

    def output_limit(self, source_tokens: int) -> int:
        if "max_new_tokens" in self.settings:
            return int(self.settings["max_new_tokens"])
        return int(self.settings.get("max_length", 512)) - 1  # minus the decoder start token

    def generate(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> list[Generated]:
        import torch

        if not texts:
            return []
        encoded = self.tokenizer([self.prefix + t for t in texts])["input_ids"]
        lengths = [len(ids) for ids in encoded]
        results: list[Generated | None] = [None] * len(texts)
        pad_id = self.tokenizer.pad_token_id
        for batch in make_batches(lengths, self.batch_size, self.max_batch_tokens):
            features = self.tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            features = {k: v.to(self.device) for k, v in features.items()}
            with torch.inference_mode():
                output = self.model.generate(**features, **self.settings)
            output = output.cpu()
            texts_out = self.tokenizer.batch_decode(output, skip_special_tokens=True)
            for row, index in enumerate(batch):
                ids = output[row]
                produced = int((ids != pad_id).sum()) if pad_id is not None else len(ids)
                start = getattr(self.model.generation_config, "decoder_start_token_id", None)
                if start is not None and len(ids) and int(ids[0]) == start and start != pad_id:
                    produced -= 1
                results[index] = Generated(
                    text=texts_out[row].strip(),
                    source_tokens=lengths[index],
                    output_tokens=produced,
                    hit_length_limit=produced >= self.output_limit(lengths[index]),
                )
            if on_batch:
                on_batch(len(batch))
        return [r for r in results if r is not None]
