"""COMET: our RegressionMetric scorer against unbabel-comet 2.2.7 itself, on tiny checkpoints built here.

unbabel-comet cannot be installed beside transformers 5, so `make setup-dev` (scripts/setup.sh) builds
`.venv-comet-ref`: unbabel-comet 2.2.7 with transformers 4.x and huggingface_hub 0.x in its own
site-packages, reusing .venv's torch. The fixtures build a tiny random-weight XLM-R (and a MiniLM:
BERT weights, XLM-R tokenizer) with a SentencePiece vocabulary trained on the seeds, and COMET
checkpoint folders (hparams.yaml + checkpoints/model.ckpt) with exactly the weights unbabel-comet
expects: the reference run loads them with ``strict=True``. Nothing is downloaded; nothing is skipped
when the reference environment is missing: the comparison fails and says how to build it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, SEED_FILES, evaluate_error
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ToolkitError
from toolkit.evaluation import NeuralOptions, evaluate

runner = CliRunner()
REFERENCE_ENV = Path(os.environ.get("TOOLKIT_COMET_REF", REPO / ".venv-comet-ref"))
# float32 scores of the same weights on the same tokens; only the summation order of batched matrix
# products differs (batches are padded differently), which moves a score by ~1e-7 at most.
TOLERANCE = 1e-5

SRC = ["Le chat est assis sur le tapis.", "Un chien a aboyé contre le facteur ce matin.",
       "Il pleut encore à Paris.", "Le gouvernement a présenté mercredi un projet de loi sur la sécurité des "
       "données personnelles, qui sera examiné par le Parlement avant la fin de l'année prochaine.", "Oui."]
HYPS = ["The cat sat on the mat.", "A dog barked at the postman this morning.", "It is raining again in Paris.",
        "The government presented on Wednesday a bill on the security of personal data, which Parliament will "
        "examine before the end of next year.", "Yes."]
REF1 = ["The cat is sitting on the mat.", "The dog barked at the mailman this morning.", "It rains in Paris again.",
        "On Wednesday the government unveiled a personal data security bill, to be examined by Parliament before "
        "the end of next year.", "Yes."]
REF2 = ["A cat sat on a mat.", "This morning a dog barked at the postman.", "Paris has rain once more.",
        "The government tabled a bill on Wednesday.", "Indeed."]
BASE = ["Cat mat.", "Dog postman.", "Rain.", "Government bill.", "No."]

# (name, encoder, hparams): the settings of Unbabel's RegressionMetric checkpoints and their variants.
VARIANTS = [
    ("mix-softmax-avg", "xlmr", {"layer_transformation": "softmax", "layer_norm": False}),
    ("mix-sparsemax-avg", "xlmr", {"layer_transformation": "sparsemax", "layer_norm": False}),
    ("mix-softmax-layernorm-avg", "xlmr", {"layer_transformation": "softmax", "layer_norm": True}),
    ("mix-sparsemax-layernorm-max", "xlmr", {"layer_transformation": "sparsemax", "layer_norm": True, "pool": "max"}),
    ("layer1-cls-sigmoid", "xlmr", {"layer": 1, "pool": "cls", "final_activation": "Sigmoid",
                                    "hidden_sizes": [16, 8, 4]}),
    ("minilm-mix-softmax-avg", "minilm", {"encoder_model": "MiniLM", "layer_transformation": "softmax",
                                          "layer_norm": True}),
]


def hparams_for(encoder: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """A RegressionMetric's hparams.yaml, as unbabel-comet writes it."""
    return {"activations": "Tanh", "batch_size": 4, "class_identifier": "regression_metric", "dropout": 0.1,
            "encoder_learning_rate": 1.0e-06, "encoder_model": "XLM-RoBERTa", "final_activation": None,
            "hidden_sizes": [24, 12], "keep_embeddings_frozen": True, "layer": "mix", "layer_norm": False,
            "layer_transformation": "sparsemax", "layerwise_decay": 0.95, "learning_rate": 1.5e-05,
            "load_pretrained_weights": True, "loss": "mse", "nr_frozen_epochs": 0.3, "optimizer": "AdamW",
            "pool": "avg", "pretrained_model": str(encoder), "train_data": [], "validation_data": [],
            "warmup_steps": 0, **overrides}


def _tokenizer(folder: Path) -> Any:
    """An XLM-R tokenizer (SentencePiece unigram trained on the seeds), saved so that transformers 4
    and 5 both read it: tokenizer.json plus a tokenizer_config.json of the keys both understand."""
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer

    lines = [line for p in SEED_FILES for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines + HYPS + REF1 + REF2), model_writer=model,
                                   vocab_size=400, model_type="unigram", character_coverage=1.0, minloglevel=2)
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    tokenizer = XLMRobertaTokenizer.from_pretrained(folder)
    (folder / "sentencepiece.bpe.model").unlink()  # transformers 4's converter needs a newer protobuf than comet's
    tokenizer.save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    keys = ("bos_token", "cls_token", "eos_token", "mask_token", "pad_token", "sep_token", "unk_token")
    portable = {k: config[k] for k in keys} | {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(portable, indent=2))
    return tokenizer


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny XLM-R folder (config + tokenizer, as COMET needs no encoder weights), a tiny MiniLM-style
    BERT config folder, and a Hugging Face cache holding "xlm-roberta-base" (the tokenizer that
    unbabel-comet's MiniLM encoder always loads by that name)."""
    from transformers import BertConfig, XLMRobertaConfig

    root = tmp_path_factory.mktemp("comet-encoders")
    xlmr = root / "tiny-xlmr"
    xlmr.mkdir()
    tokenizer = _tokenizer(xlmr)
    # max_position_embeddings 36: inputs are cut at 32 tokens, so the long segment is truncated.
    XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=36, pad_token_id=1, bos_token_id=0,
                     eos_token_id=2).save_pretrained(xlmr)
    minilm = root / "tiny-minilm"
    BertConfig(vocab_size=len(tokenizer), hidden_size=24, num_hidden_layers=3, num_attention_heads=2,
               intermediate_size=48, max_position_embeddings=64, pad_token_id=1).save_pretrained(minilm)
    cache = root / "hf-cache"
    commit = "0" * 40
    snapshot = cache / "models--xlm-roberta-base" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        (snapshot / name).write_bytes((xlmr / name).read_bytes())
    (cache / "models--xlm-roberta-base" / "refs").mkdir()
    (cache / "models--xlm-roberta-base" / "refs" / "main").write_text(commit)
    return {"xlmr": xlmr, "minilm": minilm, "cache": cache}


def build_checkpoint(folder: Path, encoder: Path, overrides: dict[str, Any], seed: int) -> Path:
    """A COMET folder whose state dict has exactly unbabel-comet's RegressionMetric keys, random values."""
    import torch
    from transformers import AutoConfig, BertModel, XLMRobertaModel

    hparams = hparams_for(encoder, overrides)
    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(encoder)
    model = BertModel(config) if hparams["encoder_model"] == "MiniLM" else XLMRobertaModel(config, add_pooling_layer=False)
    state = {f"encoder.model.{k}": v for k, v in model.state_dict().items()}
    layers = config.num_hidden_layers + 1
    if hparams["layer"] == "mix":
        # Spread weights, so that sparsemax gives some layers exactly zero.
        for i, value in enumerate(torch.linspace(-0.6, 0.9, layers)[torch.randperm(layers)]):
            state[f"layerwise_attention.scalar_parameters.{i}"] = value.reshape(1).clone()
        state["layerwise_attention.gamma"] = torch.tensor([1.3])
        state["layerwise_attention.dropout_mask"] = torch.zeros(layers)
        state["layerwise_attention.dropout_fill"] = torch.full((layers,), -1e20)
    sizes = [config.hidden_size * 6, *hparams["hidden_sizes"], 1]
    for n, (size_in, size_out) in enumerate(zip(sizes, sizes[1:])):
        state[f"estimator.ff.{3 * n}.weight"] = torch.randn(size_out, size_in) * 0.5
        state[f"estimator.ff.{3 * n}.bias"] = torch.randn(size_out) * 0.1
    (folder / "checkpoints").mkdir(parents=True)
    checkpoint = {"state_dict": state, "hyper_parameters": hparams, "epoch": 0, "global_step": 0,
                  "pytorch-lightning_version": "2.6.6"}
    torch.save(checkpoint, folder / "checkpoints" / "model.ckpt")
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    return folder


@pytest.fixture(scope="module")
def checkpoints(encoders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("comet-checkpoints")
    return {name: build_checkpoint(root / name, encoders[encoder], overrides, seed)
            for seed, (name, encoder, overrides) in enumerate(VARIANTS)}


REFERENCE_SCRIPT = """
import json, sys
from comet import load_from_checkpoint
jobs = json.load(open(sys.argv[1]))
out = {}
for name, job in jobs.items():
    model = load_from_checkpoint(job["checkpoint"], strict=True, local_files_only=True)
    out[name] = [model.predict([{"src": s, "mt": m, "ref": r} for s, m, r in zip(job["src"], job["mt"], refs)],
                               batch_size=2, gpus=0, progress_bar=False).scores for refs in job["refs"]]
print("SCORES " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def reference_scores(checkpoints: dict[str, Path], encoders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                     ) -> dict[str, list[list[float]]]:
    """unbabel-comet 2.2.7's segment scores (× 1), one list per reference set, for every checkpoint."""
    python = REFERENCE_ENV / "bin" / "python"
    if not python.is_file():
        pytest.fail(f"the unbabel-comet reference environment is missing ({REFERENCE_ENV}): run `make setup-dev`")
    folder = tmp_path_factory.mktemp("comet-reference")
    jobs = {name: {"checkpoint": str(path / "checkpoints" / "model.ckpt"), "src": SRC, "mt": HYPS, "refs": [REF1, REF2]}
            for name, path in checkpoints.items()}
    (folder / "jobs.json").write_text(json.dumps(jobs))
    (folder / "reference.py").write_text(REFERENCE_SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(encoders["cache"]), "PYTHONWARNINGS": "ignore"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), str(folder / "reference.py"), str(folder / "jobs.json")], env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SCORES ")]
    if done.returncode != 0 or not lines:
        pytest.fail(f"unbabel-comet failed in {REFERENCE_ENV}:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("SCORES "):])


@pytest.fixture()
def xlmr_base_cache(encoders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(encoders["cache"]))


def comet_options(model: Path | str, batch_size: int = 3) -> NeuralOptions:
    return NeuralOptions(comet_model=str(model), device="cpu", comet_batch_size=batch_size)


def test_reference_environment_is_unbabel_comet_2_2_7_on_transformers_4() -> None:
    python = REFERENCE_ENV / "bin" / "python"
    assert python.is_file(), f"{REFERENCE_ENV} is missing: run `make setup-dev`"
    code = ("import comet, transformers, huggingface_hub, torch; from importlib.metadata import version; "
            "print(version('unbabel-comet'), transformers.__version__, huggingface_hub.__version__, torch.__file__)")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    comet_version, transformers_version, hub_version, torch_file = done.stdout.split()
    assert comet_version == "2.2.7"
    assert transformers_version.startswith("4.") and hub_version.startswith("0.")
    assert ".venv-comet-ref" not in torch_file  # .venv's torch through the .pth file, not a second copy


@pytest.mark.parametrize("name", [v[0] for v in VARIANTS])
def test_scores_equal_unbabel_comet(name: str, checkpoints: dict[str, Path], reference_scores: dict[str, Any],
                                    xlmr_base_cache: None) -> None:
    from toolkit.evaluation.neural import CometMetric

    metric = CometMetric(comet_options(checkpoints[name]), SRC)
    for refs, expected in zip((REF1, REF2), reference_scores[name]):
        got = metric.segment_scores(HYPS, [[r] for r in refs])
        assert len(set(expected)) == len(expected)  # the random model tells the segments apart
        assert max(abs(g / 100 - e) for g, e in zip(got, expected)) < TOLERANCE, (got, expected)
    # Several references: each segment's mean over them.
    both = metric.segment_scores(HYPS, [[a, b] for a, b in zip(REF1, REF2)])
    means = [(a + b) / 2 for a, b in zip(*reference_scores[name])]
    assert max(abs(g / 100 - e) for g, e in zip(both, means)) < TOLERANCE


def test_batch_size_does_not_change_scores(checkpoints: dict[str, Path]) -> None:
    from toolkit.evaluation.neural import CometMetric

    path = checkpoints["mix-sparsemax-avg"]
    one = CometMetric(comet_options(path, 1), SRC).segment_scores(HYPS, [[r] for r in REF1])
    many = CometMetric(comet_options(path, 16), SRC).segment_scores(HYPS, [[r] for r in REF1])
    assert max(abs(a - b) for a, b in zip(one, many)) < TOLERANCE * 100


def test_evaluate_cli_with_intervals_baseline_and_signature(checkpoints: dict[str, Path], reference_scores: dict[str, Any],
                                                             tmp_path: Path) -> None:
    path = checkpoints["mix-softmax-avg"]
    (tmp_path / "src.txt").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("\n".join(REF1) + "\n", encoding="utf-8")
    (tmp_path / "base.txt").write_text("\n".join(BASE) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "ref.txt"),
                                 "--src", str(tmp_path / "src.txt"), "--metrics", "bleu,comet", "--comet-model",
                                 str(path), "--baseline", str(tmp_path / "base.txt"), "--device", "cpu",
                                 "--bootstrap", "200", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    comet = next(s for s in data["scores"] if s["metric"] == "COMET")
    expected = sum(reference_scores["mix-softmax-avg"][0]) / len(HYPS) * 100
    assert comet["score"] == pytest.approx(expected, abs=TOLERANCE * 100)
    assert comet["ci_low"] <= comet["score"] <= comet["ci_high"]
    assert comet["signature"].startswith(f"nrefs:1|model:{path}@")
    assert "|encoder:" in comet["signature"] and "tiny-xlmr@" in comet["signature"]
    assert "|impl:toolkit-regression-metric|scale:100|agg:mean|version:toolkit-" in comet["signature"]
    comparison = next(c for c in data["baseline"]["comparison"] if c["metric"] == "COMET")
    assert comparison["delta"] == pytest.approx(comet["score"] - comparison["baseline"])
    assert 0 <= comparison["p_bootstrap"] <= 1 and 0 <= comparison["p_randomization"] <= 1
    assert {s["metric"] for s in data["scores"]} == {"BLEU", "COMET"}


def test_sources_come_from_the_hypotheses_jsonl(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    path = checkpoints["mix-softmax-avg"]
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("".join(json.dumps({"doc_id": "d", "segment": i, "source": s, "hypothesis": h}) + "\n"
                           for i, (s, h) in enumerate(zip(SRC, HYPS))), encoding="utf-8")
    ref = tmp_path / "ref.jsonl"
    ref.write_text("".join(json.dumps({"doc_id": "d", "segment": i, "reference": r}) + "\n"
                           for i, r in enumerate(REF1)), encoding="utf-8")
    from toolkit.evaluation import evaluate_paths

    got = evaluate_paths(str(hyp), [str(ref)], metrics=["comet"], bootstrap=20, neural=comet_options(path))
    direct = evaluate(HYPS, [[r] for r in REF1], metrics=["comet"], bootstrap=20, neural=comet_options(path),
                      sources=SRC)
    assert got["scores"][0]["score"] == pytest.approx(direct["scores"][0]["score"], abs=1e-9)


def test_bad_models_are_one_line_errors(checkpoints: dict[str, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src.txt").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    base = ["--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "hyp.txt"), "--src", str(tmp_path / "src.txt"),
            "--metrics", "comet", "--device", "cpu", "--comet-model"]
    assert "no such folder" in evaluate_error(*base, str(tmp_path / "missing") + "/")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no checkpoints/model.ckpt" in evaluate_error(*base, str(empty))
    broken = tmp_path / "broken"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "checkpoints" / "model.ckpt").write_bytes(b"not a checkpoint")
    (broken / "hparams.yaml").write_text("pool: [avg\n")
    assert "is not valid YAML" in evaluate_error(*base, str(broken))
    (broken / "hparams.yaml").write_text(yaml.safe_dump({**hparams_for(tmp_path, {}), "class_identifier": "unified_metric"}))
    assert "UnifiedMetric" in evaluate_error(*base, str(broken))
    good = yaml.safe_load((checkpoints["mix-softmax-avg"] / "hparams.yaml").read_text())
    (broken / "hparams.yaml").write_text(yaml.safe_dump(good))
    line = evaluate_error(*base, str(broken))
    assert "cannot read" in line and line.endswith("(not a PyTorch checkpoint of tensors and plain values)"), line
    (broken / "checkpoints" / "model.ckpt").write_bytes(b"junk")  # unpickling fails with a bare opcode number
    assert evaluate_error(*base, str(broken)).endswith("(not a PyTorch checkpoint of tensors and plain values)")
    assert "CC BY-NC-SA 4.0" in evaluate_error(*base, "Unbabel/wmt22-cometkiwi-da")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    message = evaluate_error(*base[:-1])  # the default model, not cached here
    assert "Unbabel/wmt22-comet-da" in message and "toolkit models download Unbabel/wmt22-comet-da" in message


def test_missing_encoder_and_wrong_weights_are_one_line_errors(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    import torch

    copy = tmp_path / "copy"
    shutil.copytree(checkpoints["mix-softmax-avg"], copy)
    hparams = yaml.safe_load((copy / "hparams.yaml").read_text())
    (copy / "hparams.yaml").write_text(yaml.safe_dump({**hparams, "pretrained_model": str(tmp_path / "nowhere") + "/"}))
    with pytest.raises(ToolkitError, match="no such local directory"):
        evaluate(HYPS, [[r] for r in REF1], metrics=["comet"], neural=comet_options(copy), sources=SRC)
    (copy / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    checkpoint = torch.load(copy / "checkpoints" / "model.ckpt", weights_only=True)
    del checkpoint["state_dict"]["estimator.ff.0.weight"]
    torch.save(checkpoint, copy / "checkpoints" / "model.ckpt")
    with pytest.raises(ToolkitError, match="lacks weights this model needs .*estimator.0.weight"):
        evaluate(HYPS, [[r] for r in REF1], metrics=["comet"], neural=comet_options(copy), sources=SRC)


def test_comet_without_sources_says_so(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    message = evaluate_error("--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "hyp.txt"), "--metrics",
                          "comet", "--comet-model", str(checkpoints["mix-softmax-avg"]))
    assert "comet needs the source texts" in message
    (tmp_path / "src.txt").write_text("only one line\n", encoding="utf-8")
    message = evaluate_error("--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "hyp.txt"), "--src",
                          str(tmp_path / "src.txt"), "--metrics", "comet", "--comet-model",
                          str(checkpoints["mix-softmax-avg"]))
    assert "has 1 sources but there are 5 segments" in message


def test_sources_come_from_a_translate_run_folder(tiny_marian: Path, checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from conftest import SEEDS

    from toolkit.evaluation import evaluate_paths
    from toolkit.evaluation.data import load_segments

    run = tmp_path / "run"
    assert runner.invoke(app, ["translate", str(SEEDS), "-m", str(tiny_marian), "--out", str(run), "-q"]).exit_code == 0
    ref = str(REPO / "evaluation" / "references" / "translations.fr-en.jsonl")
    path = checkpoints["mix-sparsemax-avg"]
    got = evaluate_paths(str(run), [ref], metrics=["comet"], bootstrap=20, neural=comet_options(path))
    segments = load_segments(str(run), "hyp")
    sources = load_segments(str(run), "src")
    assert segments.sources is not None and sources.texts == [[s] for s in segments.sources]
    manifest = json.loads((run / "manifest.json").read_text())
    assert segments.sources[0] == manifest["documents"][0]["segments"][0]["source"]
    # The same sources given as --src (the run folder itself) score the same.
    again = evaluate_paths(str(run), [ref], metrics=["comet"], bootstrap=20, neural=comet_options(path), src=str(run))
    assert got["scores"][0]["score"] == again["scores"][0]["score"] and got["segments_count"] == 25


def test_benchmark_config_selects_comet(checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    for name in ("seeds", "evaluation"):
        shutil.copytree(REPO / name, tmp_path / name)
    config = {"name": "comet-smoke",
              "datasets": {"seeds": {"sources": ["seeds"], "source_lang": "fr", "target_lang": "en",
                                     "references": {"translation": "evaluation/references/translations.fr-en.jsonl"}}},
              "systems": [{"name": "marian-a", "task": "translation", "model": "random:marian", "backend": "torch"},
                          {"name": "marian-b", "task": "translation", "model": "random:marian", "backend": "ct2"}],
              "metrics": {"translation": ["bleu", "comet"]}, "baseline": {"translation": "marian-a"},
              "neural": {"comet_model": str(checkpoints["mix-softmax-avg"]), "device": "cpu"},
              "repeats": 1, "warmup": 0, "bootstrap": 50}
    (tmp_path / "comet.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["benchmark", "comet.yaml", "--out", "outputs/run", "--quiet"])
    assert result.exit_code == 0, result.output
    quality = json.loads((tmp_path / "outputs" / "run" / "results.json").read_text())["quality"]
    row = next(q for q in quality if q["system"] == "marian-b")
    comet = next(s for s in row["evaluation"]["scores"] if s["metric"] == "COMET")
    assert comet["signature"].startswith("nrefs:1|model:")
    assert next(c for c in row["evaluation"]["baseline"]["comparison"] if c["metric"] == "COMET")
    per_doc = row["per_document"]
    assert len(per_doc) == 2 and all("COMET" in scores and "BLEU" in scores for scores in per_doc.values())
