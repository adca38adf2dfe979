"""The Python API: the same behaviour as the CLI, options as objects, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


@pytest.mark.parametrize("backend", ["ct2", "torch"])
def test_translator_api_matches_the_cli(tiny_marian: Path, tmp_path: Path, backend: str) -> None:
    from toolkit import Translator

    text = SEED_FILES[0].read_text(encoding="utf-8")
    tr = Translator.from_pretrained(str(tiny_marian), backend=backend, device="cpu")
    [translation] = tr.translate([text])
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", backend,
                                 "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / f"{SEED_FILES[0].stem}.txt").read_text(encoding="utf-8") == translation
    assert translation.count("\n") == text.count("\n")


def test_translate_documents_is_lazy_and_ordered(tiny_marian: Path) -> None:
    from toolkit import Document, Translator

    tr = Translator.from_pretrained(str(tiny_marian), backend="ct2")
    pulled: list[int] = []

    def corpus():
        for i in range(7):
            pulled.append(i)
            yield Document(id=f"d{i}", text=f"Phrase numéro {i}. Une autre phrase.", source="mem")

    results = tr.translate_documents(corpus(), chunk_size=3)
    first = next(results)
    assert first.id == "d0" and len(first.segments) == 2 and pulled == [0, 1, 2]
    rest = list(results)
    assert [r.id for r in rest] == [f"d{i}" for i in range(1, 7)]
    assert tr.translate(["Phrase numéro 4. Une autre phrase."]) == [rest[3].output]


def test_summarizer_api(tiny_bart: Path, tmp_path: Path) -> None:
    from toolkit import Summarizer

    text = SEED_FILES[0].read_text(encoding="utf-8")
    assert Summarizer.from_pretrained("lead-2", lang="fr").summarize([text])[0].startswith(text.split(" ")[0])
    seq2seq = Summarizer.from_pretrained(str(tiny_bart), lang="en", backend="torch", num_beams=2)
    [summary] = seq2seq.summarize([text])
    assert seq2seq.describe()["generation"]["num_beams"] == 2
    result = runner.invoke(app, ["summarize", str(SEED_FILES[0]), "-m", str(tiny_bart), "--lang", "en",
                                 "--backend", "torch", "--beams", "2", "--out", str(tmp_path / "s"), "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / f"{SEED_FILES[0].stem}.txt").read_text(encoding="utf-8") == summary


def test_pipeline_api(tiny_marian: Path) -> None:
    from toolkit import Pipeline, Summarizer, Translator

    pipe = Pipeline(Translator.from_pretrained(str(tiny_marian)), Summarizer.from_pretrained("lead-1", lang="en"))
    [out] = pipe.process([SEED_FILES[1].read_text(encoding="utf-8")])
    assert out["translation"] and out["summary"] and out["summary"][:10] in out["translation"]


def test_evaluate_api() -> None:
    from toolkit import evaluate

    result = evaluate(["the cat sat on the mat"], [["the cat sat on a mat"]], task="translation", bootstrap=50)
    scores = {s["metric"]: s for s in result["scores"]}
    assert 0 < scores["BLEU"]["score"] < 100 and scores["BLEU"]["signature"]


def test_options_are_validated_objects() -> None:
    from toolkit import EngineOptions, ToolkitError, Translator
    from toolkit.options import split_options

    with pytest.raises(ToolkitError, match="^num_beams: "):
        split_options({"num_beams": 0})
    with pytest.raises(ToolkitError, match="unknown option"):
        Translator.from_pretrained("x", beams=4)
    engine, generation = split_options({"backend": "ct2", "threads": 2, "num_beams": 3})
    assert engine == EngineOptions(backend="ct2", threads=2) and generation.overrides() == {"num_beams": 3}
    with pytest.raises(ToolkitError, match="min_length 5 is larger than max_length 2"):
        split_options({"min_length": 5, "max_length": 2})


def test_import_is_light() -> None:
    script = "import sys, toolkit; print(sorted(m for m in ('torch', 'transformers', 'ctranslate2') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.replace("'", '"')) == []
