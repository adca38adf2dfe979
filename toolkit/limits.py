"""The choices and numeric limits of every option, as plain data defined once: the option models
(toolkit/options.py), the configs (toolkit/config.py, benchmark configs) and the CLI's flags read
them from here. No pydantic import, so `toolkit --help` stays fast."""

from __future__ import annotations

from typing import Any, Literal

Backend = Literal["auto", "torch", "ct2"]
Device = Literal["auto", "cpu", "cuda"]  # what the CLI and configs offer; the library also takes "cuda:1"
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
Task = Literal["translation", "summarization"]
Order = Literal["translate-first", "summarize-first"]
CorpusEngine = Literal["local", "ray"]

# field → (smallest, largest); None: no bound.
LIMITS: dict[str, tuple[int | None, int | None]] = {
    "num_beams": (1, 256), "max_length": (1, 65536), "max_new_tokens": (1, 65536), "min_length": (0, 65536),
    "min_new_tokens": (0, 65536), "no_repeat_ngram_size": (1, 64), "threads": (0, 1024), "batch_size": (1, 65536),
    "max_batch_tokens": (16, None), "shard_size": (1, 10_000_000), "actors": (1, 100_000),
}


def bounds(field: str) -> dict[str, Any]:
    """The limits of ``field`` as a CLI option takes them (``min=``, ``max=``)."""
    low, high = LIMITS[field]
    return {k: v for k, v in (("min", low), ("max", high)) if v is not None}


def field_bounds(field: str) -> dict[str, Any]:
    """The limits of ``field`` as a pydantic ``Field`` takes them (``ge=``, ``le=``)."""
    low, high = LIMITS[field]
    return {k: v for k, v in (("ge", low), ("le", high)) if v is not None}
