"""The CTranslate2 backend: conversion cache, parity with PyTorch, fallbacks, and no silent cuts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED_FILES, seed_texts
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.engines import ct2
from toolkit.engines.loader import load_engine
from toolkit.options import EngineOptions, GenerationOptions
from toolkit.text.segment import segment_document

runner = CliRunner()
SENTENCES = [s for text in seed_texts() for _, _, s in segment_document(text, "fr").sentences]


def on_cpu(backend: str, quantization: str | None = None) -> EngineOptions:
    return EngineOptions(device="cpu", backend=backend, quantization=quantization, dtype="float32")


def engines(model: Path, task: str, **overrides):
    torch_engine = load_engine(str(model), task, on_cpu("torch"), GenerationOptions(**overrides))
    ct2_engine = load_engine(str(model), task, on_cpu("ct2", "float32"), GenerationOptions(**overrides))
    return torch_engine, ct2_engine


@pytest.mark.parametrize("fixture, task", [("tiny_marian", "translation"), ("tiny_t5", "summarization"),
                                           ("tiny_bart", "summarization")])
def test_greedy_float32_parity(fixture: str, task: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(fixture)
    torch_engine, ct2_engine = engines(model, task, num_beams=1)
    texts = [s[:60] for s in SENTENCES] if fixture == "tiny_bart" else SENTENCES  # BART's window is 64 tokens
    a = torch_engine.generate(texts)
    b = ct2_engine.generate(texts)
    tokenizer = torch_engine.tokenizer
    assert [tokenizer(x.text)["input_ids"] for x in a] == [tokenizer(y.text)["input_ids"] for y in b]
    assert [x.output_tokens for x in a] == [y.output_tokens for y in b]


def test_conversion_is_cached(tiny_marian: Path) -> None:
    first = load_engine(str(tiny_marian), "translation", on_cpu("ct2", "int8_float32"))
    second = load_engine(str(tiny_marian), "translation", on_cpu("ct2", "int8_float32"))
    assert second.model_path == first.model_path and not second.converted_now
    assert (first.model_path / "toolkit.json").is_file()


def test_concurrent_conversions_keep_the_first(tiny_marian: Path, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """Another process (a Ray actor beside this one) finishes converting first: its folder, which
    it may be loading, stays as it is, and this process uses it."""
    import shutil

    from toolkit.models.hub import resolve_model

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))  # nothing converted yet
    ref = resolve_model(str(tiny_marian))
    target = ct2.converted_path(ref, "float32")
    real = ct2._converter

    class Racing:
        def __init__(self, path: str) -> None:
            self.inner = real(path)

        def convert(self, output_dir: str, **kwargs) -> None:
            self.inner.convert(output_dir, **kwargs)
            shutil.copytree(output_dir, target)  # the other process's conversion lands
            (target / "toolkit.json").write_text("{}")

    monkeypatch.setattr(ct2, "_converter", Racing)
    path, _ = ct2.convert(ref, "float32")
    assert path == target and (target / "toolkit.json").read_text() == "{}"
    assert not list(target.parent.glob(f".{target.name}.partial-*"))


def test_cli_records_backend_and_reuses_conversion(tiny_marian: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                                     "--quantization", "int8", "--out", str(tmp_path / name), "-q"])
        assert result.exit_code == 0, result.output
        runs.append(json.loads((tmp_path / name / "manifest.json").read_text()))
    assert runs[0]["backend"] == "ct2" and runs[0]["quantization"] == "int8"
    assert runs[1]["converted_this_run"] is False
    assert runs[0]["documents"][0]["segments"] and runs[0]["ct2_options"]["beam_size"] == 2


def test_auto_picks_ct2(tiny_marian: Path) -> None:
    engine = load_engine(str(tiny_marian), "translation", on_cpu("auto"))
    assert engine.backend == "ct2" and "supports" in engine.backend_note


def test_quantization_needs_ct2(tiny_marian: Path) -> None:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "torch",
                                 "--quantization", "int8_float16", "--out", "-"])
    assert result.exit_code == 2 and "need --backend ct2" in result.stderr
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                                 "--quantization", "int3", "--out", "-"])
    assert result.exit_code == 2 and "--quantization int3" in result.stderr


def test_long_segments_are_not_cut_by_ctranslate2_defaults(tmp_path: Path) -> None:
    from toolkit.models.random import build_marian

    model = build_marian(tmp_path / "long-window", seed_texts(), max_positions=2048, max_length=12)
    torch_engine, ct2_engine = engines(model, "translation", num_beams=1)
    long_text = ""
    for sentence in SENTENCES * 3:
        long_text = f"{long_text} {sentence}".strip()
        if torch_engine.count_tokens(long_text) > 1200:
            break
    length = torch_engine.count_tokens(long_text)
    assert 1024 < length <= 2048
    [a] = torch_engine.generate([long_text])
    [b] = ct2_engine.generate([long_text])
    assert b.source_tokens == length and a.text == b.text
    # The test can fail: CTranslate2's own default input limit (1024) changes the output.
    tokens = ct2_engine.tokenizer.convert_ids_to_tokens(ct2_engine.tokenizer(long_text)["input_ids"])
    options = dict(ct2_engine.decoding)
    cut = ct2_engine.translator.translate_batch([tokens], return_scores=True, **options)[0].scores[0]
    full = ct2_engine.translator.translate_batch([tokens], max_input_length=0, return_scores=True, **options)[0].scores[0]
    assert cut != pytest.approx(full, abs=1e-6)


@pytest.mark.parametrize("by_hub_id", [False, True], ids=["local-folder", "hub-id"])
def test_cached_ct2_marian_runs_import_neither_torch_nor_transformers(tiny_marian: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      by_hub_id: bool) -> None:
    """Once converted, a Marian model runs on CTranslate2 and sentencepiece alone: PyTorch,
    transformers and sacremoses (MarianTokenizer's) cost start-up and memory for nothing; and a
    cached hub model is found without huggingface_hub."""
    import os
    import shutil
    import subprocess
    import sys

    model = str(tiny_marian)
    if by_hub_id:  # the model as the Hugging Face cache holds a downloaded one
        commit = "0123456789abcdef0123456789abcdef01234567"
        storage = tmp_path / "hub" / "models--org--tiny-marian"
        shutil.copytree(tiny_marian, storage / "snapshots" / commit)
        (storage / "refs").mkdir()
        (storage / "refs" / "main").write_text(commit)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
        model = "org/tiny-marian"
    load_engine(model, "translation", on_cpu("ct2", "int8"))  # converts (this needs torch)
    script = (
        "import sys\n"
        "from toolkit.cli import app\n"
        f"try:\n    app(['translate', {str(SEED_FILES[0])!r}, '-m', {model!r}, '--backend', 'ct2',"
        f" '--quantization', 'int8', '--out', {str(tmp_path / 'o')!r}, '-q'])\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sacremoses', 'huggingface_hub') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["tokenizer"] == "MarianSpmTokenizer" and manifest["converted_this_run"] is False
    assert manifest["model"]["source"] == ("hub" if by_hub_id else "local")


def test_tokenizer_class_from_model_type_when_the_config_names_none(tiny_marian: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from toolkit.engines.loader import load_tokenizer
    from toolkit.models.hub import resolve_model

    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_marian, legacy)
    config = json.loads((legacy / "tokenizer_config.json").read_text())
    config.pop("tokenizer_class", None)
    (legacy / "tokenizer_config.json").write_text(json.dumps(config))
    assert type(load_tokenizer(resolve_model(str(legacy)))).__name__ == "MarianTokenizer"
    # Chosen by model type, not through AutoTokenizer, which would import PyTorch.
    import subprocess
    import sys

    script = ("import sys\nfrom toolkit.engines.loader import load_tokenizer\nfrom toolkit.models.hub import resolve_model\n"
              f"load_tokenizer(resolve_model({str(legacy)!r}))\nprint('torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_auto_falls_back_to_torch_when_conversion_fails(tiny_marian: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.errors import ModelError

    def broken(ref, quantization):
        raise ModelError("CTranslate2 cannot convert 'x': unsupported layer")

    monkeypatch.setattr(ct2, "convert", broken)
    engine = load_engine(str(tiny_marian), "translation", on_cpu("auto"))
    assert engine.backend == "torch" and "cannot convert" in engine.backend_note
    with pytest.raises(ModelError, match="cannot convert"):
        load_engine(str(tiny_marian), "translation", on_cpu("ct2"))
