"""MarianTokenizer without transformers: the same SentencePiece models and vocabulary, read directly.

A cached ct2 run needs nothing from transformers but the tokenizer, and importing transformers
(~0.6 s) plus the Moses punctuation normaliser MarianTokenizer sets up and never calls
(sacremoses, ~0.25 s) was most of its start-up. MarianTokenizer is a thin layer over two
SentencePiece models and ``vocab.json``; ``MarianSpmTokenizer`` reproduces what the ct2 engine
asks of it (encode with the end token, ids <-> tokens, decode without special tokens) in the same
steps, with the same library calls. ``load`` returns None for any saved configuration whose
behaviour it does not reproduce (separate vocabularies, sampling options, extra or stripped
special tokens, ...), and the caller then uses transformers. tests/test_spm_tokenizer.py checks
ids and decoded text against transformers' MarianTokenizer.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SPIECE_UNDERLINE = "▁"
# tokenizer_config.json keys that do not change encoding or decoding (bookkeeping, padding and
# truncation settings this class is never asked to apply). Any other key must be falsy.
_NEUTRAL_KEYS = {"source_lang", "target_lang", "model_max_length", "tokenizer_class", "name_or_path",
                 "special_tokens_map_file", "backend", "is_local", "local_files_only", "added_tokens_decoder",
                 "clean_up_tokenization_spaces", "separate_vocabs", "sp_model_kwargs", "unk_token", "eos_token",
                 "pad_token", "model_input_names", "padding_side", "truncation_side", "target_vocab_file"}
_DEFAULTS = {"unk_token": "<unk>", "eos_token": "</s>", "pad_token": "<pad>"}


def _token_text(value: Any) -> str | None:
    """A special token saved as a plain string; None for a saved AddedToken, whose flags (strip
    spaces, single word) this class does not reproduce."""
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _why_not(path: Path, config: dict[str, Any], specials: dict[str, str | None], vocab: dict[str, int]) -> str | None:
    """Why MarianTokenizer would behave differently from this class on ``path``; None if it would not."""
    for name in ("source.spm", "target.spm", "vocab.json"):
        if not (path / name).is_file():
            return f"no {name}"
    for name in ("tokenizer.json", "added_tokens.json", "target_vocab.json"):
        if (path / name).is_file():
            return f"{name} present"
    odd = sorted(k for k, v in config.items() if k not in _NEUTRAL_KEYS and v)
    if odd:
        return f"tokenizer_config.json sets {', '.join(odd)}"
    if config.get("separate_vocabs") or config.get("sp_model_kwargs"):
        return "separate vocabularies or SentencePiece options"
    if not isinstance(config.get("model_max_length", 512), int):
        return "model_max_length is not an integer"
    if any(text is None for text in specials.values()):
        return "a special token is saved with AddedToken flags, not as a string"
    texts = [t for t in specials.values() if t is not None]
    if any(t not in vocab for t in texts):
        return "a special token is not in vocab.json"  # transformers would append it to the vocabulary
    # Splitting on special tokens with a regular expression matches transformers' trie only when no
    # token can start inside another (then matches never overlap).
    if any(a[0] in b[1:] for a in texts for b in texts):
        return "special tokens overlap"
    mapped = _read_json(path / "special_tokens_map.json")
    if not isinstance(mapped, dict) or any(k not in specials or _token_text(v) != specials[k] for k, v in mapped.items()):
        return "special_tokens_map.json differs from tokenizer_config.json"
    for index, token in (config.get("added_tokens_decoder") or {}).items():
        if not isinstance(token, dict) or any(token.get(flag) for flag in ("lstrip", "rstrip", "single_word")):
            return f"added token {token!r} strips spaces or matches single words"
        if token.get("content") not in texts or vocab.get(token["content"]) != int(index):
            return f"added token {token!r} at {index}"
    return None


class MarianSpmTokenizer:
    """MarianTokenizer (shared vocabulary) as the ct2 engine uses it, on sentencepiece alone."""

    def __init__(self, path: Path, vocab: dict[str, int], specials: dict[str, str], model_max_length: int,
                 clean_up_tokenization_spaces: bool) -> None:
        import sentencepiece

        self.path = path
        self.source_spm = sentencepiece.SentencePieceProcessor()
        self.source_spm.Load(str(path / "source.spm"))
        self._target_spm: Any = None  # loaded on first use: only ids missing from vocab.json need it
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.unk_token, self.eos_token, self.pad_token = specials["unk_token"], specials["eos_token"], specials["pad_token"]
        self.unk_token_id, self.eos_token_id, self.pad_token_id = (vocab[t] for t in (self.unk_token, self.eos_token,
                                                                                       self.pad_token))
        self.all_special_tokens = {self.unk_token, self.eos_token, self.pad_token}
        self.all_special_ids = {vocab[t] for t in self.all_special_tokens}
        for token in self.all_special_tokens:  # transformers' added tokens win over vocab.json's duplicates
            self.decoder[vocab[token]] = token
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        pattern = "|".join(re.escape(t) for t in sorted(self.all_special_tokens, key=len, reverse=True))
        self._special_split = re.compile(f"({pattern})")
        # MarianTokenizer looks unknown ids up in the target model until its first decode, then in
        # the source model (decoding with a shared vocabulary uses the source model).
        self._decode_with_source = False

    @classmethod
    def load(cls, path: Path) -> MarianSpmTokenizer | None:
        """The tokenizer saved in ``path``, or None when MarianTokenizer would not behave like this class."""
        try:
            config = _read_json(path / "tokenizer_config.json")
            vocab = _read_json(path / "vocab.json")
        except (OSError, ValueError) as exc:
            log.debug("%s: transformers' tokenizer (%s)", path, exc)
            return None
        if not isinstance(config, dict) or not isinstance(vocab, dict):
            return None
        specials = {k: _token_text(config.get(k, default)) for k, default in _DEFAULTS.items()}
        try:
            why = _why_not(path, config, specials, vocab)
        except (OSError, ValueError, TypeError, KeyError) as exc:  # malformed files: transformers decides
            why = f"unreadable configuration ({exc})"
        if why:
            log.debug("%s: transformers' tokenizer (%s)", path, why)
            return None
        return cls(path, vocab, {k: str(v) for k, v in specials.items()}, int(config.get("model_max_length", 512)),
                   bool(config.get("clean_up_tokenization_spaces", False)))

    # ------------------------------------------------------------------ encoding

    def tokenize(self, text: str) -> list[str]:
        """Special tokens stay whole; each stretch between them loses a leading language code
        (``>>fra<<``), which is kept as one token, and goes through the source model."""
        tokens: list[str] = []
        for position, chunk in enumerate(self._special_split.split(text)):
            if position % 2:
                tokens.append(chunk)
            elif chunk:
                if chunk.startswith(">>") and (end := chunk.find("<<")) != -1:
                    tokens.append(chunk[:end + 2])
                    chunk = chunk[end + 2:]
                tokens.extend(self.source_spm.encode(chunk, out_type=str))
        return tokens

    def encode(self, text: str) -> list[int]:
        return [*self.convert_tokens_to_ids(self.tokenize(text)), self.eos_token_id]

    def __call__(self, text: str | Sequence[str]) -> dict[str, Any]:
        if isinstance(text, str):
            return {"input_ids": self.encode(text)}
        return {"input_ids": [self.encode(t) for t in text]}

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> Any:
        """One id for one token (a string), a list for a list, as transformers does."""
        if isinstance(tokens, str):
            return self.encoder.get(tokens, self.unk_token_id)
        return [self.encoder.get(token, self.unk_token_id) for token in tokens]

    # ------------------------------------------------------------------ decoding

    @property
    def target_spm(self) -> Any:
        if self._target_spm is None:
            import sentencepiece

            self._target_spm = sentencepiece.SentencePieceProcessor()
            self._target_spm.Load(str(self.path / "target.spm"))
        return self._target_spm

    def _id_to_token(self, index: int) -> str:
        if index in self.decoder:
            return self.decoder[index]
        piece = (self.source_spm if self._decode_with_source else self.target_spm).IdToPiece(index)
        return piece if piece else self.unk_token

    def convert_ids_to_tokens(self, ids: int | Sequence[int], skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return self._id_to_token(ids)
        skip = self.all_special_ids if skip_special_tokens else set()
        return [self._id_to_token(int(i)) for i in ids if int(i) not in skip]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        self._decode_with_source = True
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens)
        out = ""
        pieces: list[str] = []
        for token in tokens:
            if token in self.all_special_tokens:  # never through SentencePiece
                out += self.source_spm.decode_pieces(pieces) + token + " "
                pieces = []
            else:
                pieces.append(token)
        out += self.source_spm.decode_pieces(pieces)
        text = out.replace(SPIECE_UNDERLINE, " ").strip()
        if self.clean_up_tokenization_spaces:
            for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                                  (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
                text = text.replace(before, after)
        return text

    def batch_decode(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    def get_vocab(self) -> dict[str, int]:
        return dict(self.encoder)
