"""BERTScore through the real bert-score code path on a tiny random-weight BERT built here (COMET:
tests/test_comet.py). Nothing is downloaded: the encoder and its WordPiece vocabulary are made in the
fixture and saved with save_pretrained, as a user's local model folder would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED_FILES, evaluate_error
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.evaluation import NeuralOptions, evaluate

bert_score = pytest.importorskip("bert_score")
runner = CliRunner()

HYPS = ["The cat sat on the mat.", "A dog barked at the postman this morning.", "It is raining again in Paris."]
REF1 = ["The cat is sitting on the mat.", "The dog barked at the mailman this morning.", "It rains in Paris again."]
REF2 = ["A cat sat on a mat.", "This morning a dog barked at the postman.", "Paris has rain once more."]
BASE = ["Cat mat.", "Dog postman.", "Rain."]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT (hidden size 32) with random weights and a WordPiece vocabulary trained here."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("models") / "tiny-bert"
    lines = [line for p in SEED_FILES for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    wordpiece = BertWordPieceTokenizer(lowercase=False)
    wordpiece.train_from_iterator(lines + HYPS + REF1 + REF2, vocab_size=500, min_frequency=1, show_progress=False)
    path.mkdir(parents=True)
    wordpiece.save_model(str(path))
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=False, model_max_length=128)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(path)
    return path


def options(model: Path, layers: int | None = None) -> NeuralOptions:
    return NeuralOptions(bertscore_model=str(model), bertscore_layers=layers, device="cpu", batch_size=2)


def bertscore(result: dict) -> dict:
    return next(s for s in result["scores"] if s["metric"] == "BERTScore-F1")


@pytest.mark.parametrize("layers", [1, 2])
def test_bertscore_equals_bert_score_on_the_same_model(tiny_bert: Path, layers: int) -> None:
    result = evaluate(HYPS, [[r] for r in REF1], metrics=["bertscore"], bootstrap=20, neural=options(tiny_bert, layers))
    _, _, f1 = bert_score.score(HYPS, REF1, model_type=str(tiny_bert), num_layers=layers, device="cpu")
    assert bertscore(result)["score"] == pytest.approx(float(f1.mean()) * 100, abs=1e-4)
    assert f"layer:{layers}" in bertscore(result)["signature"]


def test_bertscore_takes_the_best_of_several_references(tiny_bert: Path) -> None:
    refs = [[a, b] for a, b in zip(REF1, REF2)]
    got = evaluate(HYPS, refs, metrics=["bertscore"], bootstrap=20, neural=options(tiny_bert))
    per_ref = [bert_score.score(HYPS, r, model_type=str(tiny_bert), num_layers=2, device="cpu")[2] for r in (REF1, REF2)]
    best = [max(a, b) for a, b in zip(per_ref[0].tolist(), per_ref[1].tolist())]
    assert bertscore(got)["score"] == pytest.approx(sum(best) / len(best) * 100, abs=1e-4)
    assert bertscore(got)["signature"].startswith("nrefs:2|model:")


def test_bertscore_identical_texts_score_100_and_default_layer_is_the_last(tiny_bert: Path) -> None:
    result = evaluate(HYPS, [[h] for h in HYPS], metrics=["bertscore"], bootstrap=20, neural=options(tiny_bert))
    assert bertscore(result)["score"] == pytest.approx(100.0, abs=1e-3)
    signature = bertscore(result)["signature"]
    assert f"model:{tiny_bert}@" in signature and "|layer:2|" in signature and "bert-score-" in signature


def test_bertscore_has_intervals_and_paired_tests_and_loads_once(tiny_bert: Path) -> None:
    from toolkit.evaluation.neural import _bert_scorer

    _bert_scorer.cache_clear()
    refs = [[r] for r in REF1]
    result = evaluate(HYPS, refs, metrics=["bleu", "bertscore"], baseline=BASE, bootstrap=50, neural=options(tiny_bert))
    score = bertscore(result)
    assert score["ci_low"] <= score["score"] <= score["ci_high"]
    comparison = next(c for c in result["baseline"]["comparison"] if c["metric"] == "BERTScore-F1")
    assert 0 < comparison["p_bootstrap"] <= 1 and 0 < comparison["p_randomization"] <= 1
    assert comparison["ci_low"] <= comparison["delta"] <= comparison["ci_high"]
    info = _bert_scorer.cache_info()
    assert info.misses == 1 and info.hits >= 1  # system and baseline share one loaded model


def test_cli_bertscore_with_a_local_model(tiny_bert: Path, tmp_path: Path) -> None:
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n")
    (tmp_path / "ref.txt").write_text("\n".join(REF1) + "\n")
    result = runner.invoke(app, ["evaluate", "--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "ref.txt"),
                                 "--metrics", "chrf,bertscore", "--bertscore-model", str(tiny_bert), "--device", "cpu",
                                 "--json", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert [s["metric"] for s in json.loads(result.stdout)["scores"]] == ["chrF++", "BERTScore-F1"]


def test_bertscore_layer_beyond_the_model_is_one_clear_error(tiny_bert: Path, tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("Some text.\n")
    args = ["--hyp", str(tmp_path / "t.txt"), "--ref", str(tmp_path / "t.txt"), "--metrics", "bertscore", "--device", "cpu"]
    line = evaluate_error(*args, "--bertscore-model", str(tiny_bert), "--bertscore-layers", "99")
    assert "--bertscore-layers is 99, but the model has 2 layers" in line
    known = tmp_path / "roberta-large"  # a folder named like a model bert-score knows (layer 17)
    known.symlink_to(tiny_bert, target_is_directory=True)
    assert "recommended layer for that name is 17, but the model has 2 layers" in evaluate_error(*args, "--bertscore-model", str(known))


@pytest.mark.parametrize("lang, model", [("en", "roberta-large"), ("fr", "bert-base-multilingual-cased")])
def test_default_bertscore_models_offline_are_one_clear_error(tmp_path: Path, lang: str, model: str) -> None:
    (tmp_path / "t.txt").write_text("Some text.\n")
    line = evaluate_error("--hyp", str(tmp_path / "t.txt"), "--ref", str(tmp_path / "t.txt"), "--metrics", "bertscore",
                           "--lang", lang)
    assert f"model '{model}' is not in the local Hugging Face cache" in line
