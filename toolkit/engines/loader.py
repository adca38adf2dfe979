"""Choosing and building the generation engine: PyTorch (transformers ``generate``) or CTranslate2."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_args

from toolkit.engines import ct2
from toolkit.engines.base import GENERATION_KEYS, Engine, TorchEngine, generation_settings, input_limit
from toolkit.engines.spm_tokenizer import MarianSpmTokenizer
from toolkit.errors import ModelError, ToolkitError
from toolkit.limits import Backend
from toolkit.models.hub import ModelRef, resolve_model
from toolkit.options import EngineOptions, GenerationOptions, LanguageCodes

BACKENDS = get_args(Backend)  # the choices, defined once in toolkit/limits.py
log = logging.getLogger(__name__)


# Generation parameters that old checkpoints keep in config.json instead of generation_config.json.
_GENERATION_FIELDS = GENERATION_KEYS + ("forced_eos_token_id", "decoder_start_token_id", "bos_token_id",
                                        "eos_token_id", "pad_token_id")
# Tokenizer classes named in tokenizer_config.json that are generic rather than a model's own.
_GENERIC_TOKENIZERS = {None, "PreTrainedTokenizerFast", "TokenizersBackend", "PreTrainedTokenizer"}
# Older checkpoints (opus-mt among them) name no tokenizer class: the model type decides.
_TOKENIZER_BY_MODEL_TYPE = {"marian": "MarianTokenizer", "bart": "BartTokenizer", "t5": "T5Tokenizer",
                            "mt5": "T5Tokenizer", "pegasus": "PegasusTokenizer", "mbart": "MBartTokenizer",
                            "m2m_100": "M2M100Tokenizer"}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def tokenizer_class_name(ref: ModelRef) -> str | None:
    """The transformers tokenizer class the model's files name (or its model type implies)."""
    name = _read_json(ref.path / "tokenizer_config.json").get("tokenizer_class")
    if name in _GENERIC_TOKENIZERS and not (ref.path / "tokenizer.json").is_file():
        name = _TOKENIZER_BY_MODEL_TYPE.get(str(_read_json(ref.path / "config.json").get("model_type")))
    return name if isinstance(name, str) and name not in _GENERIC_TOKENIZERS else None


def load_tokenizer(ref: ModelRef, backend: str = "torch") -> Any:
    """The model's own tokenizer class, imported by name: unlike AutoTokenizer, that does not
    import PyTorch, which costs the ct2 backend ~250 MB and a second of start-up.

    For the ct2 backend a Marian tokenizer is read with sentencepiece directly when that gives
    exactly MarianTokenizer's tokens (``MarianSpmTokenizer``): importing transformers for it was
    most of a cached ct2 run's start-up. The torch backend needs transformers anyway (padding,
    tensors), and other tokenizers (BART, T5, ...) still come from transformers."""
    name = tokenizer_class_name(ref)
    if backend == "ct2" and name == "MarianTokenizer":
        fast = MarianSpmTokenizer.load(ref.path)
        if fast is not None:
            return fast
    import transformers

    cls = getattr(transformers, name, None) if name else None
    try:
        if cls is None:
            cls = transformers.AutoTokenizer
        return cls.from_pretrained(ref.path)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
        first = lines[0].rstrip(":") if len(lines) == 1 or not lines[0].endswith(":") else f"{lines[0]} {lines[1]}"
        raise ModelError(f"cannot load the tokenizer of '{ref.reference}': {first}") from None


def load_configs(ref: ModelRef) -> tuple[SimpleNamespace, SimpleNamespace]:
    """config.json and the generation settings (generation_config.json, or the generation fields
    of config.json for checkpoints that predate it), as plain attribute namespaces."""
    config = _read_json(ref.path / "config.json")
    generation = _read_json(ref.path / "generation_config.json")
    if not generation:
        generation = {k: config[k] for k in _GENERATION_FIELDS if k in config}
    return SimpleNamespace(**config), SimpleNamespace(**generation)


ENGINES: dict[str, type[Engine]] = {"torch": TorchEngine, "ct2": ct2.CT2Engine}


def choose_backend(backend: str, ref: ModelRef) -> tuple[str, str | None]:
    if backend not in BACKENDS:
        raise ToolkitError(f"--backend {backend}: expected auto, torch or ct2")
    if backend == "torch":
        return "torch", None
    if not ct2.supports(ref):
        if backend == "ct2":
            raise ToolkitError(f"--backend ct2: CTranslate2 cannot run '{ref.reference}' "
                               f"(model type {ct2.model_type(ref)!r}); use --backend torch")
        return "torch", f"auto: CTranslate2 does not support model type {ct2.model_type(ref)!r}"
    return "ct2", "auto: CTranslate2 supports this model" if backend == "auto" else None


def with_free_confidence(options: EngineOptions | None) -> EngineOptions:
    """``options`` asking for the model's confidence where it is free: the ct2 backend (and auto,
    which picks ct2 for every model it supports; a model it falls back to torch for pays the
    recorder). The torch backend's recorder costs generation time (docs/trust.md), so a torch
    run records it only when asked (``confidence=True``)."""
    options = options or EngineOptions()
    if options.backend == "torch" or options.confidence:
        return options
    return options.replace(confidence=True)


def load_engine(reference: str, task: str, options: EngineOptions | None = None,
                generation: GenerationOptions | None = None, codes: LanguageCodes | None = None) -> Engine:
    """Resolve ``reference`` and build the engine that will run it.

    ``task`` ("translation" or "summarization") selects the model's task-specific defaults and
    prefix (T5's ``summarize: ``). With the ct2 backend the PyTorch weights are never loaded,
    except once to convert them. The engine carries what the manifest needs (``manifest()``).
    """
    options = options or EngineOptions()
    codes = codes or LanguageCodes()
    ref = resolve_model(reference, revision=options.revision)
    chosen, note = choose_backend(options.backend, ref)
    tokenizer = load_tokenizer(ref, chosen)
    config, generation_config = load_configs(ref)
    task_params = dict((getattr(config, "task_specific_params", None) or {}).get(task, {}))
    prefix = codes.source_prefix or task_params.pop("prefix", "") or ""
    task_params.pop("prefix", None)
    if codes.src_code:
        _set_language_codes(tokenizer, generation_config, ref, codes.src_code, codes.tgt_code)
    overrides = (generation or GenerationOptions()).overrides()
    settings, overridden = generation_settings(generation_config, overrides, task_params)
    if "max_length" not in settings and "max_new_tokens" not in settings:
        # transformers' own fallback is 20 tokens, which cuts translations and summaries short.
        settings["max_length"] = input_limit(tokenizer, config)
    if codes.tgt_code:
        settings["forced_bos_token_id"] = generation_config.forced_bos_token_id
    try:
        engine = ENGINES[chosen].load(ref, tokenizer, config, generation_config, settings, options, prefix)
    except ModelError as exc:
        if options.backend != "auto" or chosen == "torch":
            raise
        note = f"auto: {exc}; fell back to torch"
        if isinstance(tokenizer, MarianSpmTokenizer):  # the torch engine pads and decodes tensors
            tokenizer = load_tokenizer(ref)
        engine = TorchEngine.load(ref, tokenizer, config, generation_config, settings,
                                  options.replace(quantization="float32") if options.quantization else options, prefix)
    engine.ref, engine.overridden, engine.backend_note = ref, overridden, note
    log.debug("loaded %s for %s: backend %s on %s (%s), settings %s", ref.reference, task, engine.backend,
              engine.device, note or "as asked", settings)
    return engine


def _set_language_codes(tokenizer: Any, generation: Any, ref: ModelRef, src_code: str, tgt_code: str | None) -> None:
    """Many-to-many models: the source language marks the input, the target is the forced first token."""
    vocab = tokenizer.get_vocab()
    for code in (src_code, tgt_code):
        if code is not None and code not in vocab:
            raise ModelError(f"model '{ref.reference}' has no language code '{code}' in its vocabulary")
    # M2M100 names languages "fr" but spells their tokens "__fr__"; NLLB uses "fra_Latn" for both.
    tokenizer.src_lang = src_code[2:-2] if src_code.startswith("__") and src_code.endswith("__") else src_code
    if hasattr(tokenizer, "set_src_lang_special_tokens"):
        tokenizer.set_src_lang_special_tokens(tokenizer.src_lang)
    if tgt_code is not None:
        generation.forced_bos_token_id = tokenizer.convert_tokens_to_ids(tgt_code)
