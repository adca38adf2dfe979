"""CTranslate2 backend: convert a Hugging Face checkpoint once, cache it, decode with the same
segmentation, batching, settings and outputs as the torch backend.

Converted models live under ``$TOOLKIT_CACHE/ct2`` (default ``~/.cache/toolkit/ct2``), one folder
per (model content, quantization, CTranslate2 version), so a second run never converts again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from toolkit.config import toolkit_cache
from toolkit.engines.base import Decoded, Engine, Generated, make_batches, resolve_device
from toolkit.engines.confidence import ct2_confidence
from toolkit.errors import ModelError, ToolkitError
from toolkit.models.hub import ModelRef
from toolkit.options import EngineOptions

# Architectures CTranslate2's Transformers converter handles for encoder-decoder generation.
SUPPORTED_MODEL_TYPES = {"marian", "bart", "mbart", "pegasus", "t5", "mt5", "m2m_100"}
QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "float16", "bfloat16", "float32")


def cache_root() -> Path:
    return toolkit_cache() / "ct2"


def pick_device(device: str) -> str:
    """Like engine.pick_device, asking CTranslate2 (not PyTorch, which this backend never imports)."""
    import ctranslate2

    return resolve_device(device, ctranslate2.get_cuda_device_count() > 0, "CTranslate2")


def default_quantization(device: str) -> str:
    return "int8_float16" if device.startswith("cuda") else "int8"


def model_type(ref: ModelRef) -> str | None:
    try:
        return json.loads((ref.path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        return None


def supports(ref: ModelRef) -> bool:
    return model_type(ref) in SUPPORTED_MODEL_TYPES


def converted_path(ref: ModelRef, quantization: str) -> Path:
    import ctranslate2

    key = hashlib.sha256(f"{ref.identity}|{quantization}|{ctranslate2.__version__}".encode()).hexdigest()[:20]
    name = ref.reference.strip("/").replace("/", "--")[-60:]
    return cache_root() / f"{name}-{quantization}-{key}"


def _converter(path: Path) -> Any:
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, model_name_or_path, **kwargs)
            # transformers 5 dropped BartConfig.normalize_before, which the converter reads;
            # BART is post-LayerNorm, i.e. the old default False.
            if model.config.model_type == "bart" and not hasattr(model.config, "normalize_before"):
                model.config.normalize_before = False
            return model

    return Converter(str(path))


def convert(ref: ModelRef, quantization: str) -> tuple[Path, bool]:
    """The converted model folder for ``ref`` and whether it was converted now (False: cache hit)."""
    if quantization not in QUANTIZATIONS:
        raise ToolkitError(f"--quantization {quantization}: expected one of {', '.join(QUANTIZATIONS)}")
    target = converted_path(ref, quantization)
    if _complete(target):
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _converter(ref.path).convert(str(partial), quantization=quantization, force=True)
        (partial / "toolkit.json").write_text(json.dumps({**ref.to_dict(), "quantization": quantization}, indent=2))
        # Several processes may convert at once (the actors of --engine ray on one node): a
        # complete conversion is never replaced, since another process may be loading it.
        if not _complete(target):
            if target.exists():  # what a killed process left
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(partial, target)
            except OSError:
                if not _complete(target):  # not another process's conversion, landed meanwhile
                    raise
    except (ValueError, NotImplementedError, KeyError, AttributeError, RuntimeError) as exc:
        raise ModelError(f"CTranslate2 cannot convert '{ref.reference}': {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target, True


def _complete(target: Path) -> bool:
    return (target / "model.bin").is_file() and (target / "toolkit.json").is_file()


# transformers generation settings → CTranslate2 translate_batch arguments.
def decoding_options(settings: dict[str, Any], forced_eos: bool = False) -> dict[str, Any]:
    """CTranslate2 options that decode like ``generate`` with ``settings``.

    transformers counts the decoder start token in ``max_length``, CTranslate2 does not; and a
    model with ``forced_eos_token_id`` spends its last position on a forced end token, which
    CTranslate2 cannot force, so it stops one token earlier instead (same text either way)."""
    options: dict[str, Any] = {"beam_size": int(settings.get("num_beams", 1))}
    if "max_new_tokens" in settings:
        options["max_decoding_length"] = int(settings["max_new_tokens"]) - int(forced_eos)
    else:
        options["max_decoding_length"] = int(settings.get("max_length", 512)) - 1 - int(forced_eos)
    # A limit of one token (--max-new-tokens 1, --max-length 1) leaves nothing once the end token
    # is counted; CTranslate2 refuses a maximum of 0, so the shortest decoding is one token.
    options["max_decoding_length"] = max(1, options["max_decoding_length"])
    if "min_new_tokens" in settings:
        options["min_decoding_length"] = int(settings["min_new_tokens"])
    elif "min_length" in settings:
        options["min_decoding_length"] = max(0, int(settings["min_length"]) - 1)
    if "min_decoding_length" in options:
        options["min_decoding_length"] = min(options["min_decoding_length"], options["max_decoding_length"])
    for key in ("length_penalty", "no_repeat_ngram_size", "repetition_penalty"):
        if key in settings:
            options[key] = settings[key]
    return options


def thread_layout(threads: int, device: str = "cpu", cores: int | None = None) -> tuple[int, int]:
    """(inter_threads, intra_threads) for ``--threads`` (0: every core of this machine).

    On the CPU, one single-threaded translator replica per thread, several batches in flight:
    a batch's decoding has long sequential stretches (beam search bookkeeping, small matrix
    products) during which a second intra-op thread idles, while a second replica decoding
    another batch keeps that core busy. Measured on a 2-core AMD EPYC (benchmarks/speed.py,
    ``--ct2-layout``): (2, 1) decodes faster than (1, 2). On CUDA one replica per GPU, with the
    threads for its CPU-side work."""
    if device.startswith("cuda"):
        return 1, threads
    total = threads or cores or os.cpu_count() or 1
    if os.environ.get("TOOLKIT_CT2_LAYOUT") == "intra":  # the earlier layout, for the speed benchmark
        return 1, total
    return total, 1


# glibc's mallopt parameter for the number of malloc arenas (malloc.h: M_ARENA_MAX).
M_ARENA_MAX = -8


def limit_malloc_arenas(replicas: int) -> bool:
    """Cap glibc's malloc arenas at one per replica (at least 2) unless MALLOC_ARENA_MAX is set.

    glibc gives threads their own arenas (up to 8 per core); CTranslate2's replica and worker
    threads then each keep freed decoding buffers in their own, and the process's peak memory
    grows by the sum. With the cap, a cached Marian model on 2 replicas peaked at ~378 MiB
    instead of ~408 MiB (3 runs each), at the same CPU time. The setting is process-wide and
    takes effect for arenas created later (glibc fixes the limit once 8 arenas exist).
    Returns whether it was applied (False off glibc or when the user chose a value)."""
    import ctypes

    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):  # not a glibc system
        glibc = ""
    if os.environ.get("MALLOC_ARENA_MAX") or not glibc.startswith("glibc"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, max(2, replicas)))
    except (OSError, AttributeError):
        return False


# Small inputs are cut into this many batches (the replicas of a 2-core machine), whatever the
# layout: a plan that followed --threads would make outputs depend on it.
SMALL_INPUT_BATCHES = 2


# Translators whose batches were abandoned (Ctrl-C): kept alive, so that unwinding does not wait
# for them; the `toolkit` process then leaves without waiting either (toolkit/cli/__init__.py).
ABANDONED: list[Any] = []
# How often a waiting result is checked: short next to a sentence's decoding, long enough to cost
# no CPU to speak of. A poll, because CTranslate2 (4.x) offers nothing else that lets a signal
# through: an AsyncTranslationResult has only done() and result(), which blocks in C++ where
# neither Ctrl-C nor SIGTERM reaches Python, with no timeout; translate_batch's callback runs per
# token and only for greedy search, never on completion. Measured (benchmarks/ct2_poll_cost.py, 2026-12-02, Intel
# Xeon, 2 cores at load 12, tiny Marian, 400 sentences): the waiting thread spent 14.8 ms of CPU
# over 1.57 s of waits (190 wake-ups), 0.9% of a core and 2% of the decode's CPU; the same loop
# idle, 53 ms over 5 s (1.1% of a core). A result is seen at most 5 ms late.
RESULT_POLL_SECONDS = 0.005


class CT2Engine(Engine):
    """Decodes with ``ctranslate2.Translator.translate_batch``; never imports PyTorch once the
    model is converted. Several batches are kept in flight so that every replica is busy."""

    backend = "ct2"

    def __init__(self, tokenizer: Any, ref: ModelRef, device: str, settings: dict[str, Any], options: EngineOptions,
                 quantization: str, prefix: str = "", model_config: Any = None, generation_config: Any = None) -> None:
        import ctranslate2

        super().__init__(tokenizer, device, settings, options, prefix, model_config)
        self.quantization = quantization
        self.model_path, self.converted_now = convert(ref, quantization)
        ct2_device, _, index = device.partition(":")
        self.inter_threads, self.intra_threads = thread_layout(options.threads, device)
        self.arenas_limited = ct2_device == "cpu" and limit_malloc_arenas(self.inter_threads)
        self.translator = ctranslate2.Translator(
            str(self.model_path), device=ct2_device, device_index=int(index or 0), compute_type=quantization,
            inter_threads=self.inter_threads, intra_threads=self.intra_threads,
        )
        self.forced_eos = getattr(generation_config, "forced_eos_token_id", None) is not None
        forced_bos = getattr(generation_config, "forced_bos_token_id", None)
        # BART-style models force <s> after the decoder start token; CTranslate2 takes it as a prefix.
        self.target_prefix = tokenizer.convert_ids_to_tokens([forced_bos]) if forced_bos is not None else None
        self.decoding = decoding_options(settings, self.forced_eos)

    @classmethod
    def load(cls, ref: ModelRef, tokenizer: Any, config: Any, generation: Any, settings: dict[str, Any],
             options: EngineOptions, prefix: str) -> Engine:
        device = pick_device(options.device)
        quantization = options.quantization or default_quantization(device)
        return cls(tokenizer, ref, device, settings, options, quantization, prefix, config, generation)

    def settings_changed(self) -> None:
        self.decoding = decoding_options(self.settings, self.forced_eos)

    def output_limit(self, source_tokens: int) -> int:
        # The limit as the user set it (--max-new-tokens 6 is "6"), not CTranslate2's decoding
        # length, which leaves out a forced end token.
        if "max_new_tokens" in self.settings:
            return int(self.settings["max_new_tokens"])
        return int(self.settings.get("max_length", 512)) - 1

    def describe(self) -> dict[str, Any]:
        return {"quantization": self.quantization, "converted_model": str(self.model_path),
                "converted_this_run": self.converted_now, "threads": self.options.threads,
                "inter_threads": self.inter_threads, "intra_threads": self.intra_threads,
                "malloc_arenas_limited": self.arenas_limited, "ct2_options": self.decoding,
                # MarianSpmTokenizer (sentencepiece directly) or the transformers class: same tokens.
                "tokenizer": type(self.tokenizer).__name__}

    def plan_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Length-sorted batches within the token budget, and at least ``SMALL_INPUT_BATCHES`` of
        them: a single document of 12 sentences becomes two batches of 6, so two replicas both
        decode. The plan never depends on the thread layout: the same inputs make the same
        batches (hence the same outputs) with any --threads, here or on Ray actors."""
        spread = -(-len(lengths) // SMALL_INPUT_BATCHES)
        return make_batches(lengths, max(1, min(self.batch_size, spread)), self.max_batch_tokens)

    def generate(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> list[Generated]:
        # Progress counts sentences as they finish: a batch of long ones can take many seconds.
        self._on_sentence = on_batch
        try:
            return super().generate(texts, None)
        finally:
            self._on_sentence = None

    def decode_batches(self, batches: Sequence[Sequence[Sequence[int]]],
                       hypotheses: int = 1) -> Iterator[list[Decoded]]:
        """Batches are submitted asynchronously, a few ahead of the one being read, and read back
        in order: with several replicas (inter_threads) they decode side by side."""
        window = max(2, 2 * self.inter_threads)
        pending: deque[list[Any]] = deque()
        try:
            for batch in batches:
                pending.append(self._submit(batch, hypotheses))
                if len(pending) >= window:
                    yield self._collect(self._finished(pending.popleft()))
            while pending:
                yield self._collect(self._finished(pending.popleft()))
        except BaseException:
            if pending:  # destroyed now, the translator would wait for its batches in flight
                ABANDONED.append(self.translator)
            raise

    def _finished(self, futures: list[Any]) -> list[Any]:
        """Wait for each result in Python, not inside CTranslate2 (whose wait no signal ends):
        Ctrl-C and SIGTERM stop the run at once, and nothing more is submitted."""
        on_sentence = getattr(self, "_on_sentence", None)
        for future in futures:
            while not future.done():
                time.sleep(RESULT_POLL_SECONDS)
            if on_sentence:
                on_sentence(1)
        return futures

    def decode_batch(self, batch: Sequence[Sequence[int]], hypotheses: int = 1) -> list[Decoded]:
        return self._collect(self._submit(batch, hypotheses))

    def _submit(self, batch: Sequence[Sequence[int]], hypotheses: int = 1) -> list[Any]:
        tokens = [self.tokenizer.convert_ids_to_tokens(list(ids)) for ids in batch]
        prefix = [self.target_prefix] * len(batch) if self.target_prefix else None
        decoding = self.decoding
        if hypotheses > 1:  # CTranslate2 needs a beam at least as wide as the hypotheses it returns
            decoding = {**decoding, "beam_size": self.nbest_beams(hypotheses), "num_hypotheses": hypotheses}
        # max_input_length=0: CTranslate2 would otherwise cut inputs at 1024 tokens, silently.
        return list(self.translator.translate_batch(tokens, target_prefix=prefix, max_input_length=0,
                                                    max_batch_size=0, asynchronous=True,
                                                    return_scores=self.options.confidence and hypotheses == 1,
                                                    **decoding))

    def _collect(self, futures: list[Any]) -> list[Decoded]:
        limit = self.decoding["max_decoding_length"]
        prefix = len(self.target_prefix) if self.target_prefix else 0
        penalty = float(self.decoding.get("length_penalty", 1.0))
        decoded = []
        for future in futures:
            result = future.result()
            hypothesis = result.hypotheses[0]
            ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            hit = len(hypothesis) >= limit
            # CTranslate2 leaves out the end token it produced (or that transformers would force).
            decoded.append(Decoded(self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                                   len(hypothesis) + int(not hit or self.forced_eos), hit,
                                   ct2_confidence(result.scores[0], len(hypothesis), prefix, not hit, penalty)
                                   if self.options.confidence and result.scores else None,
                                   [self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(other),
                                                          skip_special_tokens=True).strip()
                                    for other in result.hypotheses[1:]]))
        return decoded
