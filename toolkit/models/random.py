"""Random-weight models of real architectures, with tokenizers trained on the spot.

No weights can be downloaded in some environments (CI, air-gapped newsrooms), yet the loading,
batching and generation code must run for real. These builders make small (or full-size) models
with the exact classes of MarianMT, BART and T5, save them with ``save_pretrained`` and so exercise
the same ``from_pretrained`` path a user's model takes. Their outputs are meaningless by design.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

ENGLISH_SAMPLE = [
    "The Russian president congratulated his Kazakh counterpart on his re-election on Monday.",
    "More than two hundred people were killed in the unrest that began over a rise in fuel prices.",
    "Russia will do everything to support the president of Kazakhstan, he added.",
    "The early presidential election confirmed the head of state in power with a wide margin.",
    "Voters could only choose between the current leader and five candidates without credibility.",
    "The Kremlin spokesman said the transition under way was an internal affair of the country.",
    "Mr. Tokayev took over the chairmanship of the powerful Security Council and the ruling party.",
    "About twelve million voters were registered, and nearly seventy percent of them voted.",
]

# French text of our own for tokenizers trained where no corpus is at hand (an installed wheel).
FRENCH_SAMPLE = [
    "Le président a félicité lundi son homologue pour sa réélection à la tête du pays.",
    "Plus de deux cents personnes ont été tuées lors des troubles nés d'une hausse du prix du carburant.",
    "« Nous ferons tout pour soutenir le gouvernement », a-t-il ajouté dans un communiqué.",
    "L'élection anticipée a confirmé le chef de l'État au pouvoir avec une large avance.",
    "Les électeurs n'ont pu choisir qu'entre le dirigeant actuel et cinq candidats sans crédibilité.",
    "Le porte-parole a déclaré que la transition en cours était une affaire intérieure du pays.",
    "M. Dupont a pris la présidence du puissant Conseil de sécurité et du parti au pouvoir.",
    "Environ douze millions d'électeurs étaient inscrits, et près de 70 % d'entre eux ont voté.",
]


def _corpus(texts: Iterable[str]) -> list[str]:
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    return lines or ENGLISH_SAMPLE


def train_sentencepiece(texts: Sequence[str], vocab_size: int, model_type: str = "unigram") -> bytes:
    """Train a SentencePiece model in memory and return its serialized bytes."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus(texts)),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        hard_vocab_limit=False,
        character_coverage=1.0,
        bos_id=-1,
        eos_id=1,
        unk_id=2,
        pad_id=0,
        minloglevel=2,
    )
    return buffer.getvalue()


def _spm_pieces(model: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def build_marian(path: Path, source_texts: Sequence[str], target_texts: Sequence[str] = ENGLISH_SAMPLE,
                 d_model: int = 32, layers: int = 1, heads: int = 2, ffn: int = 64, vocab_size: int = 400,
                 max_length: int = 24, num_beams: int = 2, source_lang: str = "fr", target_lang: str = "en",
                 max_positions: int = 512, seed: int = 0, pad_vocab_to: int | None = None,
                 target_tokens: Sequence[str] = ()) -> Path:
    """A MarianMT model with random weights and a MarianTokenizer trained on the given texts.

    ``target_tokens`` (e.g. ``>>fra<<``) make it a multi-target model like opus-mt-en-ROMANCE."""
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    path.mkdir(parents=True, exist_ok=True)
    source_spm = train_sentencepiece(source_texts, vocab_size)
    target_spm = train_sentencepiece(target_texts, vocab_size)
    (path / "source.spm").write_bytes(source_spm)
    (path / "target.spm").write_bytes(target_spm)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for token in target_tokens:
        vocab[token] = len(vocab)
    for piece in _spm_pieces(source_spm) + _spm_pieces(target_spm):
        if piece not in vocab and piece not in ("<pad>", "<s>"):
            vocab[piece] = len(vocab)
    while pad_vocab_to and len(vocab) < pad_vocab_to - 1:
        vocab[f"▁<unused{len(vocab)}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"), target_spm=str(path / "target.spm"), vocab=str(path / "vocab.json"),
        source_lang=source_lang, target_lang=target_lang, model_max_length=max_positions,
    )
    tokenizer.save_pretrained(path)
    pad = vocab["<pad>"]
    config = MarianConfig(  # type: ignore[call-arg]  # extra keywords go through **kwargs
        vocab_size=len(vocab), decoder_vocab_size=len(vocab), d_model=d_model,
        encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=heads, decoder_attention_heads=heads,
        encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_position_embeddings=max_positions, pad_token_id=pad,
        eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=0, scale_embedding=True,
        share_encoder_decoder_embeddings=True, static_position_embeddings=True,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        max_length=max_length, num_beams=num_beams, bad_words_ids=[[pad]], pad_token_id=pad, eos_token_id=0,
        decoder_start_token_id=pad, forced_eos_token_id=0,
    )
    model.save_pretrained(path)
    return path


def build_bart(path: Path, texts: Sequence[str], d_model: int = 32, layers: int = 1, heads: int = 2, ffn: int = 64,
               vocab_size: int = 500, max_positions: int = 128, max_length: int = 20, min_length: int = 4,
               num_beams: int = 2, seed: int = 0, decoder_layers: int | None = None,
               pad_vocab_to: int | None = None) -> Path:
    """A BART summariser with random weights and a byte-level BPE tokenizer trained on ``texts``.

    Its generation config follows bart-large-cnn's shape (beams, length penalty, min/max length,
    no-repeat n-gram), scaled down.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer, GenerationConfig

    path.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_corpus(list(texts) + ENGLISH_SAMPLE), vocab_size=vocab_size, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(path))
    tokenizer = BartTokenizer(vocab=str(path / "vocab.json"), merges=str(path / "merges.txt"),
                              model_max_length=max_positions)
    if pad_vocab_to and pad_vocab_to > len(tokenizer):
        # Full-size vocabularies make the output projection cost what the real model's does.
        tokenizer.add_tokens([f"<unused{i}>" for i in range(pad_vocab_to - len(tokenizer))])
    tokenizer.save_pretrained(path)
    config = BartConfig(  # type: ignore[call-arg]
        vocab_size=len(tokenizer), d_model=d_model, encoder_layers=layers, decoder_layers=decoder_layers or layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
        max_position_embeddings=max_positions, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2,
    )
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        num_beams=num_beams, max_length=max_length, min_length=min_length, length_penalty=2.0,
        no_repeat_ngram_size=3, early_stopping=True, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2,
    )
    model.save_pretrained(path)
    return path


def build_t5(path: Path, texts: Sequence[str], d_model: int = 32, layers: int = 1, heads: int = 2, ffn: int = 64,
             vocab_size: int = 300, max_input: int = 128, max_length: int = 20, num_beams: int = 2,
             prefix: str = "summarize: ", seed: int = 0) -> Path:
    """A T5 with random weights, a SentencePiece tokenizer trained on ``texts``, and T5's
    ``summarize: `` task prefix in ``task_specific_params`` like the released checkpoints."""
    import sentencepiece as spm
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration, T5Tokenizer

    path.mkdir(parents=True, exist_ok=True)
    model_proto = train_sentencepiece(list(texts) + ENGLISH_SAMPLE, vocab_size)
    processor = spm.SentencePieceProcessor(model_proto=model_proto)
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_input)
    tokenizer.save_pretrained(path)
    config = T5Config(  # type: ignore[call-arg]
        vocab_size=len(tokenizer), d_model=d_model, d_kv=d_model // heads, d_ff=ffn, num_layers=layers,
        num_decoder_layers=layers, num_heads=heads, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        task_specific_params={"summarization": {"prefix": prefix}},
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(num_beams=num_beams, max_length=max_length, pad_token_id=0,
                                               eos_token_id=1, decoder_start_token_id=0)
    model.save_pretrained(path)
    return path


def build_marian_from_tokenizer(path: Path, tokenizer_dir: Path, d_model: int = 512, layers: int = 6, heads: int = 8,
                                ffn: int = 2048, num_beams: int = 4, max_length: int = 512, seed: int = 0) -> Path:
    """A MarianMT with random weights around a real Marian tokenizer folder (vocabulary, special
    token ids and SentencePiece models as released), at the given dimensions."""
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    tokenizer = MarianTokenizer.from_pretrained(tokenizer_dir)
    base = MarianConfig.from_pretrained(tokenizer_dir)
    config = MarianConfig(  # type: ignore[call-arg]
        vocab_size=base.vocab_size, decoder_vocab_size=base.decoder_vocab_size, d_model=d_model,
        encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=heads, decoder_attention_heads=heads,
        encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_position_embeddings=base.max_position_embeddings,
        pad_token_id=base.pad_token_id, eos_token_id=base.eos_token_id, decoder_start_token_id=base.decoder_start_token_id,
        forced_eos_token_id=base.eos_token_id, scale_embedding=True, share_encoder_decoder_embeddings=True,
        static_position_embeddings=True,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        max_length=max_length, num_beams=num_beams, bad_words_ids=[[base.pad_token_id]], pad_token_id=base.pad_token_id,
        eos_token_id=base.eos_token_id, decoder_start_token_id=base.decoder_start_token_id,
        forced_eos_token_id=base.eos_token_id,
    )
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


def build_nllb(path: Path, texts: Sequence[str], d_model: int = 32, layers: int = 1, heads: int = 2, ffn: int = 64,
               max_positions: int = 512, max_length: int = 24, num_beams: int = 2, seed: int = 0) -> Path:
    """An NLLB-style many-to-many model (M2M100 architecture) with random weights and a
    character-level NllbTokenizer that carries the NLLB-200 language codes (``fra_Latn`` …)."""
    import torch
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    path.mkdir(parents=True, exist_ok=True)
    characters = sorted({ch for text in list(texts) + ENGLISH_SAMPLE for ch in text if not ch.isspace()})
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in ["▁", *characters]:
        vocab.setdefault(piece, len(vocab))
    tokenizer = NllbTokenizer(vocab=vocab, merges=[], src_lang="eng_Latn", tgt_lang="eng_Latn",
                              model_max_length=max_positions)
    tokenizer.save_pretrained(path)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
        max_position_embeddings=max_positions, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        scale_embedding=True,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(max_length=max_length, num_beams=num_beams, pad_token_id=1, bos_token_id=0,
                                               eos_token_id=2, decoder_start_token_id=2)
    model.save_pretrained(path)
    return path
