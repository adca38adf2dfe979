"""Model confidence (toolkit/engines/confidence.py): one definition on both backends.

On the same float32 model, CTranslate2's scores (length penalty undone) and the torch backend's
recorded log-probabilities agree within CONFIDENCE_TOLERANCE, greedy and beam search, with and
without the end token, with and without generation rules that forbid tokens."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from conftest import seed_texts

from toolkit.engines.loader import load_engine
from toolkit.options import EngineOptions, GenerationOptions
from toolkit.text.segment import segment_document

# Absolute, in nats per token: float32 kernels of the two libraries differ by ~1e-4 here.
CONFIDENCE_TOLERANCE = 2e-3
SENTENCES = [s for text in seed_texts() for _, _, s in segment_document(text, "fr").sentences][:12]


def on_cpu(backend: str) -> EngineOptions:
    return EngineOptions(device="cpu", backend=backend, quantization="float32" if backend == "ct2" else None,
                         dtype="float32", confidence=True)


def both(model: Path, task: str, **overrides):
    generation = GenerationOptions(**overrides)
    return (load_engine(str(model), task, on_cpu("torch"), generation),
            load_engine(str(model), task, on_cpu("ct2"), generation))


@pytest.fixture(scope="module")
def marian_that_ends(tiny_marian: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_marian with its end token's bias raised: its outputs end (random weights never do)."""
    import torch
    from transformers import MarianMTModel

    path = tmp_path_factory.mktemp("models") / "tiny-marian-ends"
    shutil.copytree(tiny_marian, path)
    model = MarianMTModel.from_pretrained(path)
    with torch.no_grad():
        model.final_logits_bias[0, model.config.eos_token_id] += 4.0
    model.save_pretrained(path)
    return path


def assert_agree(torch_engine, ct2_engine, texts) -> list:
    """Equal confidences wherever the backends chose the same output (greedy: everywhere; a beam
    search on a random model may break near-ties differently, as the parity tests allow)."""
    a, b = torch_engine.generate(texts), ct2_engine.generate(texts)
    same = [(x, y) for x, y in zip(a, b) if x.text == y.text]
    assert len(same) == len(a) if torch_engine.settings["num_beams"] == 1 else len(same) >= len(a) // 2
    for x, y in zip(a, b):
        assert x.confidence is not None and y.confidence is not None
        assert x.confidence <= 0 and y.confidence <= 0 and math.isfinite(x.confidence)
    for x, y in same:
        assert abs(x.confidence - y.confidence) <= CONFIDENCE_TOLERANCE, (x, y)
    return a


@pytest.mark.parametrize("beams", [1, 4])
def test_translation_confidence_agrees_across_backends_at_the_limit(tiny_marian: Path, beams: int) -> None:
    outputs = assert_agree(*both(tiny_marian, "translation", num_beams=beams), SENTENCES)
    assert all(o.hit_length_limit for o in outputs)  # the forced end token is not counted


@pytest.mark.parametrize("beams", [1, 4])
def test_translation_confidence_agrees_with_an_end_token_and_a_minimum_length(marian_that_ends: Path,
                                                                              beams: int) -> None:
    # min_new_tokens forbids the end token for 3 steps: both backends renormalise without it.
    outputs = assert_agree(*both(marian_that_ends, "translation", num_beams=beams, min_new_tokens=3), SENTENCES)
    assert not any(o.hit_length_limit for o in outputs)


def test_summariser_confidence_agrees_across_backends(tiny_bart: Path) -> None:
    # BART: a forced start token (ct2's target prefix), length penalty 2 and no-repeat n-grams.
    texts = [s[:60] for s in SENTENCES]
    assert_agree(*both(tiny_bart, "summarization"), texts)
    assert_agree(*both(tiny_bart, "summarization", num_beams=1, min_new_tokens=2), texts)


def test_confidence_is_the_mean_log_probability_of_the_chosen_tokens(tiny_marian: Path) -> None:
    """Recomputed independently: the model run on its own output (teacher forcing)."""
    import torch

    torch_engine, _ = both(tiny_marian, "translation", num_beams=1)
    [generated] = torch_engine.generate(SENTENCES[:1])
    tokenizer, model = torch_engine.tokenizer, torch_engine.model
    source = tokenizer(SENTENCES[:1], return_tensors="pt")
    with torch.inference_mode():
        sequence = model.generate(**source, **torch_engine.settings)
        logits = model(**source, decoder_input_ids=sequence[:, :-1]).logits
        # Marian's generation config forbids the pad token (bad_words_ids): generation renormalises without it.
        logits[..., tokenizer.pad_token_id] = float("-inf")
    assert model.generation_config.bad_words_ids == [[tokenizer.pad_token_id]]
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, sequence[:, 1:, None])[0, :, 0]
    assert tokenizer.decode(sequence[0], skip_special_tokens=True).strip() == generated.text
    assert generated.hit_length_limit  # its last token is the end token forced at the limit: not counted
    assert generated.confidence == pytest.approx(float(log_probs[:-1].mean()), abs=1e-3)


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_confidence_is_only_computed_when_asked_for(tiny_marian: Path, backend: str) -> None:
    # Off by default: the torch backend's recorder costs translate time, and nothing reads it unasked.
    options = on_cpu(backend).replace(confidence=False)
    engine = load_engine(str(tiny_marian), "translation", options, GenerationOptions(num_beams=2))
    asked = load_engine(str(tiny_marian), "translation", on_cpu(backend), GenerationOptions(num_beams=2))
    plain, scored = engine.generate(["Bonjour le monde."]), asked.generate(["Bonjour le monde."])
    assert plain[0].confidence is None
    assert scored[0].confidence is not None and scored[0].confidence <= 0
    assert plain[0].text == scored[0].text


def brute_force_confidences(engine, texts: list[str]) -> list[float | None]:
    """The definition computed from everything: transformers' own processed scores of every step
    (``output_scores``, rows × vocabulary), renormalised, read at each chosen token through the
    beam indices; a step with a single allowed token (forced) is not counted."""
    import torch

    features = engine.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        result = engine.model.generate(**features, **engine.settings, return_dict_in_generate=True,
                                       output_scores=True)
    eos, pad = engine.model.generation_config.eos_token_id, engine.tokenizer.pad_token_id
    beam_indices = getattr(result, "beam_indices", None)
    out: list[float | None] = []
    for row, sequence in enumerate(result.sequences.tolist()):
        total, count = 0.0, 0
        for step, scores in enumerate(result.scores):
            if step + 1 >= len(sequence):
                break
            token = sequence[step + 1]
            origin = row if beam_indices is None else int(beam_indices[row, step])
            if origin < 0 or (beam_indices is None and token == pad and pad != eos):
                break
            distribution = scores[origin]
            if int(torch.isfinite(distribution).sum()) > 1:  # not forced
                total += float(torch.log_softmax(distribution, dim=-1)[token])
                count += 1
            if beam_indices is None and token == eos:
                break
        out.append(min(0.0, total / count) if count else None)
    return out


@pytest.mark.parametrize("beams", [1, 3])
def test_recorded_confidence_is_the_brute_force_definition(marian_that_ends: Path, tiny_bart: Path,
                                                           beams: int) -> None:
    """The recorder keeps only the chosen tokens' log-probabilities (read back from the next
    step's inputs): the same values as from the full scores of every step, for outputs that end
    early, run to the limit, and start with a forced token (BART)."""
    cases = [(marian_that_ends, "translation", SENTENCES[:6], dict(min_new_tokens=3)),
             (tiny_bart, "summarization", [s[:60] for s in SENTENCES[:4]], {})]
    for model, task, texts, overrides in cases:
        engine = load_engine(str(model), task, on_cpu("torch"), GenerationOptions(num_beams=beams, **overrides))
        recorded = [g.confidence for g in engine.generate(texts)]
        expected = [c for text in texts for c in brute_force_confidences(engine, [text])]
        assert None not in recorded
        assert recorded == pytest.approx(expected, abs=1e-5)
