"""Typed option objects shared by the CLI, the Python API, benchmark configs and manifests.

Each is a small validated pydantic model: a bad value is one clear ``OptionError`` naming the
option's field, whichever door it came in by (the CLI spells the field as its flag, the server as
it is). Choices and limits come from toolkit/limits.py (the CLI reads the same); toolkit/config.py
resolves the configured defaults plus overrides.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from toolkit.errors import OptionError, ToolkitError
from toolkit.limits import Backend, CorpusEngine, Device, Dtype, Task, field_bounds

__all__ = ["Backend", "CorpusEngine", "CorpusOptions", "Device", "Dtype", "EngineOptions", "GenerationOptions",
           "LanguageCodes", "Options", "Task", "build", "split_options"]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **values: Any) -> None:
        # A bad value is one ToolkitError line, whether the options come from the CLI, a config
        # or Python code (``EngineOptions(backend="xx")``).
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _one_line(exc, type(self).__name__) from None

    def replace(self: OptionsT, **changes: Any) -> OptionsT:
        """A copy with ``changes`` applied (None leaves a field as it is), validated again. Fields
        neither set before nor changed stay unset, so that defaults can still fill them
        (toolkit.config.resolve_engine)."""
        return build(type(self), {**self.given(), **{k: v for k, v in changes.items() if v is not None}})

    def given(self) -> dict[str, Any]:
        """The fields set explicitly (by a caller, a flag or a config), not left at their default."""
        return self.model_dump(include=set(self.model_fields_set))


OptionsT = TypeVar("OptionsT", bound=Options)


class EngineOptions(Options):
    """How a model runs: which backend, where, how precise, how many threads, what batches."""

    backend: Backend = "auto"
    device: str = "auto"
    quantization: str | None = None
    dtype: Dtype = "auto"  # torch backend only; ct2 takes --quantization
    threads: int = Field(0, **field_bounds("threads"))
    batch_size: int = Field(16, **field_bounds("batch_size"))
    max_batch_tokens: int = Field(8192, **field_bounds("max_batch_tokens"))
    revision: str | None = None
    # Each output's mean log-probability (toolkit/engines/confidence.py). Off until a caller uses
    # it: free on ct2; the torch backend's per-step recorder measured +1.7% CPU time (docs/trust.md).
    confidence: bool = False
    # Work never done twice (toolkit.tasks.memory): identical units of a run are decoded once, and
    # with ``memory`` (a translation-memory file) once across runs. Neither changes an output byte.
    dedupe: bool = True
    memory: str | None = None
    memory_max_entries: int | None = Field(None, ge=1)


class GenerationOptions(Options):
    """User overrides of the model's own generation config; None keeps the model's value."""

    num_beams: int | None = Field(None, **field_bounds("num_beams"))
    max_length: int | None = Field(None, **field_bounds("max_length"))
    max_new_tokens: int | None = Field(None, **field_bounds("max_new_tokens"))
    min_length: int | None = Field(None, **field_bounds("min_length"))
    min_new_tokens: int | None = Field(None, **field_bounds("min_new_tokens"))
    length_penalty: float | None = None
    no_repeat_ngram_size: int | None = Field(None, **field_bounds("no_repeat_ngram_size"))

    @model_validator(mode="after")
    def _lengths(self) -> GenerationOptions:
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is larger than max_length {self.max_length}")
        return self

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class LanguageCodes(Options):
    """What a multilingual model needs to know the pair: a target token at the start of every
    source (multi-target opus-mt: ``>>fr<< ``), or source/target language codes (NLLB, M2M100)."""

    source_prefix: str = ""
    src_code: str | None = None
    tgt_code: str | None = None


class CorpusOptions(Options):
    """How a record corpus (JSONL) is run: shard size, and where — this process, or Ray."""

    shard_size: int = Field(1000, **field_bounds("shard_size"))
    engine: CorpusEngine = "local"
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray with this machine's CPUs
    actors: int | None = Field(None, **field_bounds("actors"))  # Ray actors (default: the cluster's CPUs / threads)


def _one_line(exc: ValidationError, owner: str) -> ToolkitError:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return ToolkitError(f"unknown option '{field}' for {owner}")
    return OptionError(field, message) if field else ToolkitError(message)


def build(cls: type[OptionsT], values: dict[str, Any]) -> OptionsT:
    """``cls(**values)``: a validation error is one ToolkitError line."""
    return cls(**values)


def split_options(values: dict[str, Any], base_engine: EngineOptions | None = None,
                  base_generation: GenerationOptions | None = None) -> tuple[EngineOptions, GenerationOptions]:
    """Keyword arguments of the Python API (``backend="ct2", num_beams=4``) sorted into the two
    option objects; unknown names are an error, not silently ignored."""
    engine_fields, generation_fields = set(EngineOptions.model_fields), set(GenerationOptions.model_fields)
    unknown = sorted(set(values) - engine_fields - generation_fields)
    if unknown:
        raise ToolkitError(f"unknown option(s): {', '.join(unknown)}")
    engine = (base_engine or EngineOptions()).replace(**{k: v for k, v in values.items() if k in engine_fields})
    generation = (base_generation or GenerationOptions()).replace(
        **{k: v for k, v in values.items() if k in generation_fields})
    return engine, generation


class DocumentOptions(Options):
    """How a structured file (docx, pptx, srt, po, xliff, …) is read and written back."""

    format: str | None = None  # forced format name (``--format``); None: by the file's extension
    line_chars: int = Field(42, ge=8, le=1000)  # subtitles: characters a line
    max_lines: int = Field(2, ge=1, le=20)  # subtitles: lines a cue before a warning
    blocks_per_batch: int = Field(64, ge=1, le=100_000)  # blocks translated together (memory bound)


class QualityOptions(Options):
    """Thresholds of the translation checks and of the risk they add up to (toolkit/quality/;
    packaged defaults in toolkit/data/defaults.yaml, section ``quality``)."""

    # risk: a confidence below these (mean log-probability per token, ≤ 0) → review / likely-wrong
    confidence_review: float = Field(-1.5, le=0)
    confidence_likely_wrong: float = Field(-3.0, le=0)
    # flags that alone make a sentence likely wrong; any other flag makes it worth a review …
    likely_wrong_flags: tuple[str, ...] = ("untranslated", "wrong-language", "repetition", "truncated")
    # … and this many different flags together make it likely wrong too
    flags_for_likely_wrong: int = Field(2, ge=1)
    # untranslated / wrong-language
    min_letters: int = Field(25, ge=1)  # language identification below this many letters: unreliable, skipped
    language_confidence: float = Field(0.9, ge=0, le=1)  # identifier probability needed to call a language
    copy_similarity: float = Field(0.9, ge=0, le=1)  # output this similar to its source (0–1): untranslated
    copy_min_words: int = Field(4, ge=1)  # shorter sources (names, datelines) are often kept as they are
    # repetition
    loop_repeats: int = Field(3, ge=2)  # an n-gram this many times in a row …
    loop_min_tokens: int = Field(4, ge=2)  # … covering at least this many words, where the source has none
    max_length_ratio: float = Field(3.0, gt=1)  # output characters over source characters
    # length-ratio: robust z-score of log(output/source length) against the run's median and MAD
    length_ratio_z: float = Field(4.0, gt=0)
    length_ratio_min_pairs: int = Field(20, ge=3)  # fewer pairs in a run: not checked
    length_ratio_min_chars: int = Field(20, ge=1)  # shorter sources: not checked
    length_ratio_min_scale: float = Field(0.1, gt=0)  # floor of the MAD scale, in log units
    # terms: a capitalised source word is a name kept in translation when it appears verbatim in
    # at least this share of the outputs of the sources holding it, over at least this many
    names_kept_share: float = Field(0.6, gt=0, le=1)
    names_min_occurrences: int = Field(2, ge=1)
    # what translate does with a likely-wrong sentence (toolkit/tasks/fallback.py): keep it (flagged),
    # retry it with a stricter search, route it through a pivot, or keep its source, marked
    on_risk: Literal["keep", "retry", "pivot", "source"] = "keep"
