"""Every translate run records its quality signals: text runs (manifest), structured files,
corpus runs (details files and manifest), pipeline, the Python API; ``--no-checks`` turns them off
without changing an output byte."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.options import QualityOptions

runner = CliRunner()


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".txt"}


def test_a_text_run_records_confidence_flags_and_risk(tiny_marian: Path, tmp_path: Path) -> None:
    command = ["translate", *map(str, SEED_FILES[:2]), "-m", str(tiny_marian), "--backend", "ct2", "--src", "fr"]
    checked = runner.invoke(app, [*command, "--out", str(tmp_path / "on")])
    assert checked.exit_code == 0, checked.output
    assert "Checked 25 sentence(s)" in checked.output and "likely wrong" in checked.output
    found = manifest(tmp_path / "on")
    segments = [s for doc in found["documents"] for s in doc["segments"]]
    # ct2 scores are free: recorded with the checks; tiny random outputs all run to the limit
    assert all(isinstance(s["confidence"], float) and s["risk"] in ("review", "likely-wrong") for s in segments)
    assert all("truncated" in [f["name"] for f in s["flags"]] and s["truncated"] is True for s in segments)
    quality = found["quality"]
    assert quality["sentences"] == len(segments) == sum(d["quality"]["sentences"] for d in found["documents"])
    assert quality["flags"]["truncated"] == len(segments)
    assert sum(quality["risk"].values()) == len(segments) and len(quality["worst"]) == 10
    for name in quality["flags"]:
        assert quality["flags"][name] == sum(name in [f["name"] for f in s["flags"]] for s in segments)

    plain = runner.invoke(app, [*command, "--out", str(tmp_path / "off"), "--no-checks"])
    assert plain.exit_code == 0 and "Checked" not in plain.output
    bare = manifest(tmp_path / "off")
    assert "quality" not in bare and all("quality" not in d for d in bare["documents"])
    assert all(k not in s for d in bare["documents"] for s in d["segments"] for k in ("confidence", "flags", "risk"))
    assert outputs(tmp_path / "on") == outputs(tmp_path / "off")  # the checks change no output byte


def test_json_summary_has_the_quality_counts(tiny_marian: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--src", "fr",
                                 "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["quality"]["sentences"] == 12 and summary["quality"] == manifest(tmp_path / "run")["quality"]


def test_a_corpus_run_records_them_in_its_details_and_manifest(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    texts = [line for line in SEED_FILES[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--src", "fr", "--shard-size", "2",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    details = [json.loads(line) for path in sorted((out / "details").iterdir())
               for line in path.read_text(encoding="utf-8").splitlines()]
    segments = [s for d in details for s in d["segments"]]
    assert segments and all(s["risk"] in ("review", "likely-wrong") and s["flags"] for s in segments)
    assert all(d["quality"]["sentences"] == len(d["segments"]) for d in details)
    found = manifest(out)
    assert found["quality"]["sentences"] == len(segments) == json.loads(result.stdout)["quality"]["sentences"]
    assert found["quality"]["flags"]["truncated"] == len(segments)
    assert {w["doc_id"] for w in found["quality"]["worst"]} <= {d["id"] for d in details}
    assert all("quality" not in shard for shard in found["shards"])  # in the completion log only: small manifests


def test_the_python_api_assesses_when_asked(tiny_marian: Path) -> None:
    from toolkit import Translator

    text = SEED_FILES[0].read_text(encoding="utf-8")
    plain = Translator.from_pretrained(str(tiny_marian), backend="ct2", device="cpu")
    checked = Translator.from_pretrained(str(tiny_marian), backend="ct2", device="cpu", quality=QualityOptions(),
                                         confidence=True)
    [bare] = plain.translate_documents([text])
    [result] = checked.translate_documents([text])
    assert bare.output == result.output and all(r.risk is None for r in bare.segments)
    assert all(r.risk is not None and r.flags is not None and r.confidence is not None for r in result.segments)
    assert result.extra["quality"]["sentences"] == len(result.segments)
    assert checked.with_glossary(None).quality == checked.quality


def test_pipeline_records_the_translation_stages_quality(tiny_marian: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["pipeline", str(SEED_FILES[0]), "--translator", str(tiny_marian), "--summarizer",
                                 "lead-2", "--src", "fr", "--tgt", "en", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stages = {stage["stage"]: stage for stage in manifest(out)["stages"]}
    assert stages["translate"]["quality"]["sentences"] == 12 and "quality" not in stages["summarize"]
    assert all("risk" in s for s in stages["translate"]["documents"][0]["segments"])
    assert "Checked 12 sentence(s)" in result.output


def test_a_structured_file_records_them(tiny_marian: Path, tmp_path: Path) -> None:
    srt = tmp_path / "clip.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nLe président est arrivé à Moscou.\n\n"
                   "2\n00:00:04,000 --> 00:00:06,000\nLe taux est de 7,4 %.\n", encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(srt), "-m", str(tiny_marian), "--src", "fr", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [doc] = manifest(out)["documents"]
    assert doc["quality"]["sentences"] == len(doc["segments"]) == 2
    assert all(s["risk"] != "ok" for s in doc["segments"]) and manifest(out)["quality"]["sentences"] == 2


def test_a_resumed_corpus_run_records_the_same_signals(tiny_marian: Path, tmp_path: Path, monkeypatch) -> None:
    from test_corpus import _interrupted_run, files_of, write_corpus

    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "-q"]
    assert runner.invoke(app, [*command, "--out", str(whole)]).exit_code == 0
    _interrupted_run(tiny_marian, corpus, cut, monkeypatch)
    assert runner.invoke(app, [*command, "--out", str(cut), "--resume"]).exit_code == 0
    assert files_of(cut) == files_of(whole)  # details (flags, risk, confidence) included
    details = (whole / "details" / "part-00000.jsonl").read_text(encoding="utf-8")
    assert '"risk":' in details and '"flags":' in details and '"confidence":' in details
    assert manifest(cut)["quality"] == manifest(whole)["quality"]  # resumed shards' counts from the log


def test_resuming_without_the_checks_names_them_in_a_short_line(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(i), "text": "Le chat dort."}) + "\n" for i in range(3)))
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--backend", "ct2", "--src", "fr",
               "--out", str(tmp_path / "run"), "-q"]
    assert runner.invoke(app, command).exit_code == 0
    refused = runner.invoke(app, [*command, "--resume", "--no-checks"])
    assert refused.exit_code == 2
    line = refused.stderr.strip()
    assert "quality: set then, not set now" in line and len(line) < 300, line
