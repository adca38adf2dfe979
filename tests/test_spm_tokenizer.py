"""The ct2 backend's Marian tokenizer (sentencepiece + vocab.json, no transformers) gives exactly
transformers' MarianTokenizer's ids, tokens and decoded text, and steps aside where it would not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.engines.loader import load_engine, load_tokenizer
from toolkit.engines.spm_tokenizer import MarianSpmTokenizer
from toolkit.models.hub import resolve_model
from toolkit.options import EngineOptions
from toolkit.text.segment import segment_document

REAL_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer"
# Pieces of French and English text, with what tends to break tokenizers: special tokens whole
# and in parts, language codes, typographic punctuation, spaces of every kind, combining accents,
# ligatures (SentencePiece normalises NFKC), emoji and other scripts.
FRAGMENTS = ["Le ", "président", " a annoncé", " mardi", "l'été", "aujourd’hui", "The ", "couldn't", " won't", "é", "à",
             "ç", "œ", "Å", "e\u0301", "ﬁ", "«", "»", " « ", "…", "—", "–", "-", ".", ",", " .", " ,", "!", "?", " ?", "%",
             "€", "$", "0", "70", "1,5", " ", "  ", "\t", "\n", "\u00a0", "\u202f", "\u200b", "</s>", "<unk>", "<pad>",
             "<", ">", "/", "s>", "<un", ">>fra<<", ">>eng<< ", ">>", "<<", "🎉", "日本語", "ك", "'s", " 's", " n't",
             "'", " ' "]
TEXTS = st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join), st.text(max_size=40))


def _tokenizers(path: Path) -> tuple[MarianSpmTokenizer, Any]:
    from transformers import MarianTokenizer

    fast = MarianSpmTokenizer.load(path)
    assert fast is not None
    return fast, MarianTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def fixture_pair(tiny_marian: Path) -> tuple[MarianSpmTokenizer, Any]:
    return _tokenizers(tiny_marian)


@pytest.fixture(scope="module")
def real_pair() -> tuple[MarianSpmTokenizer, Any]:
    if not (REAL_TOKENIZER / "vocab.json").is_file():
        pytest.skip(f"{REAL_TOKENIZER} is not here")
    return _tokenizers(REAL_TOKENIZER)


def assert_same_encoding(pair: tuple[MarianSpmTokenizer, Any], text: str) -> None:
    fast, slow = pair
    ids = slow(text)["input_ids"]
    assert fast(text)["input_ids"] == ids, text
    assert fast.convert_ids_to_tokens(ids) == slow.convert_ids_to_tokens(ids)
    for skip in (True, False):
        assert fast.decode(ids, skip_special_tokens=skip) == slow.decode(ids, skip_special_tokens=skip), text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXTS)
def test_same_ids_tokens_and_text_as_transformers(fixture_pair: tuple[MarianSpmTokenizer, Any], text: str) -> None:
    assert_same_encoding(fixture_pair, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXTS)
def test_same_as_transformers_with_the_real_opus_mt_tokenizer(real_pair: tuple[MarianSpmTokenizer, Any], text: str) -> None:
    assert_same_encoding(real_pair, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_decoding_any_ids_as_transformers(fixture_pair: tuple[MarianSpmTokenizer, Any], data: st.DataObject) -> None:
    """What a model may generate: any ids of the vocabulary, special ones included, in any order."""
    fast, slow = fixture_pair
    ids = data.draw(st.lists(st.integers(0, len(fast.encoder) - 1), max_size=30))
    assert fast.convert_ids_to_tokens(ids) == slow.convert_ids_to_tokens(ids)
    tokens = fast.convert_ids_to_tokens(ids)
    assert fast.convert_tokens_to_ids(tokens) == slow.convert_tokens_to_ids(tokens)
    for skip in (True, False):
        assert fast.decode(ids, skip_special_tokens=skip) == slow.decode(ids, skip_special_tokens=skip)


def test_seed_sentences_and_attributes_match(fixture_pair: tuple[MarianSpmTokenizer, Any]) -> None:
    fast, slow = fixture_pair
    sentences = [s for p in SEED_FILES for _, _, s in segment_document(p.read_text(encoding="utf-8"), "fr").sentences]
    assert fast(sentences)["input_ids"] == slow(sentences)["input_ids"]
    assert fast.model_max_length == slow.model_max_length
    assert (fast.eos_token_id, fast.pad_token_id, fast.unk_token_id) == (slow.eos_token_id, slow.pad_token_id,
                                                                         slow.unk_token_id)
    assert fast.get_vocab() == slow.get_vocab()
    assert fast.convert_tokens_to_ids("<pad>") == slow.convert_tokens_to_ids("<pad>")
    assert fast.convert_ids_to_tokens(3) == slow.convert_ids_to_tokens(3)


def _variant(source: Path, target: Path, config: dict[str, Any] | None = None, files: dict[str, str] | None = None) -> Path:
    shutil.copytree(source, target)
    saved = json.loads((target / "tokenizer_config.json").read_text())
    (target / "tokenizer_config.json").write_text(json.dumps({**saved, **(config or {})}))
    for name, text in (files or {}).items():
        (target / name).write_text(text)
    return target


def test_clean_up_tokenization_spaces_is_followed(tiny_marian: Path, tmp_path: Path) -> None:
    path = _variant(tiny_marian, tmp_path / "clean", {"clean_up_tokenization_spaces": True})
    pair = _tokenizers(path)
    assert pair[0].clean_up_tokenization_spaces
    for text in ("Il a dit : « non » , puis il est parti .", "It 's what they 've done , isn't it ?"):
        assert_same_encoding(pair, text)


@pytest.mark.parametrize("change", [
    {"config": {"separate_vocabs": True}},
    {"config": {"sp_model_kwargs": {"enable_sampling": True, "alpha": 0.1}}},
    {"config": {"additional_special_tokens": ["<eop>"]}},
    {"config": {"do_lower_case": True}},
    {"config": {"eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": True, "rstrip": False,
                              "single_word": False, "normalized": False, "special": True}}},
    {"config": {"added_tokens_decoder": {"0": {"content": "</s>", "lstrip": False, "rstrip": True,
                                               "single_word": False, "normalized": False, "special": True}}}},
    {"config": {"pad_token": "<not-in-vocab>"}},
    {"files": {"added_tokens.json": "{}"}},
    {"files": {"special_tokens_map.json": json.dumps({"eos_token": "</s>", "mask_token": "<mask>"})}},
], ids=["separate-vocabs", "sampling", "extra-special-token", "lower-case", "stripping-token", "stripping-added-token",
        "token-not-in-vocab",
        "added-tokens-file", "other-special-tokens"])
def test_configurations_it_does_not_reproduce_fall_back_to_transformers(tiny_marian: Path, tmp_path: Path,
                                                                        change: dict[str, Any]) -> None:
    path = _variant(tiny_marian, tmp_path / "variant", change.get("config"), change.get("files"))
    if change.get("config", {}).get("separate_vocabs"):
        shutil.copy(path / "vocab.json", path / "target_vocab.json")
    assert MarianSpmTokenizer.load(path) is None
    assert type(load_tokenizer(resolve_model(str(path)), "ct2")).__name__ != "MarianSpmTokenizer"


def test_only_the_ct2_backend_uses_it(tiny_marian: Path, tiny_bart: Path) -> None:
    ref = resolve_model(str(tiny_marian))
    assert isinstance(load_tokenizer(ref, "ct2"), MarianSpmTokenizer)
    assert type(load_tokenizer(ref, "torch")).__name__ == "MarianTokenizer"  # torch pads and decodes tensors
    assert type(load_tokenizer(resolve_model(str(tiny_bart)), "ct2")).__name__ != "MarianSpmTokenizer"
    engine = load_engine(str(tiny_marian), "translation", EngineOptions(device="cpu", backend="ct2"))
    assert isinstance(engine.tokenizer, MarianSpmTokenizer)
    assert engine.manifest()["tokenizer"] == "MarianSpmTokenizer"


def test_ct2_outputs_are_those_of_the_transformers_tokenizer(tiny_marian: Path) -> None:
    engine = load_engine(str(tiny_marian), "translation", EngineOptions(device="cpu", backend="ct2",
                                                                        quantization="float32"))
    sentences = [s for _, _, s in segment_document(SEED_FILES[0].read_text(encoding="utf-8"), "fr").sentences]
    fast = engine.generate(sentences)
    engine.tokenizer = load_tokenizer(resolve_model(str(tiny_marian)))
    assert type(engine.tokenizer).__name__ == "MarianTokenizer"
    assert engine.generate(sentences) == fast


def test_target_language_tokens_of_a_multi_target_model(tiny_en_mul: Path) -> None:
    pair = _tokenizers(tiny_en_mul)
    fast, _ = pair
    assert fast(">>fra<< Hello")["input_ids"][0] == fast.encoder[">>fra<<"]
    for text in (">>fra<< The president said.", ">>deu<< Hello</s>", ">>fra<<", ">>deu<<>>fra<< x", "x >>fra<< y"):
        assert_same_encoding(pair, text)


def test_malformed_configurations_are_left_to_transformers(tiny_marian: Path, tmp_path: Path) -> None:
    bad_index = _variant(tiny_marian, tmp_path / "index", {"added_tokens_decoder": {"x": {"content": "</s>"}}})
    assert MarianSpmTokenizer.load(bad_index) is None
    broken = _variant(tiny_marian, tmp_path / "broken", files={"vocab.json": "{not json"})
    assert MarianSpmTokenizer.load(broken) is None
