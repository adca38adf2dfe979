"""`toolkit translate` end to end, through the same loading path a user's model takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SEED_FILES, SEEDS, interactive_signals
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.text.segment import segment_document

runner = CliRunner()


def translate(*args: str, input: str | bytes | None = None):
    return runner.invoke(app, ["translate", *args], input=input)


def assert_same_layout(source: str, output: str) -> None:
    """Same lines, blank where the source is blank, same indentation, same final newline."""
    src_lines, out_lines = source.split("\n"), output.split("\n")
    assert len(src_lines) == len(out_lines)
    for s, o in zip(src_lines, out_lines):
        assert (s.strip() == "") == (o.strip() == "")
        assert s[: len(s) - len(s.lstrip())] == o[: len(o) - len(o.lstrip())]


def test_translates_seeds_keeping_structure_and_alignment(tiny_marian: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = translate(str(SEEDS), "--model", str(tiny_marian), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [d["id"] for d in manifest["documents"]] == [p.stem for p in SEED_FILES]
    for path, entry in zip(SEED_FILES, manifest["documents"]):
        source = path.read_text(encoding="utf-8")
        output = (out / entry["output_file"]).read_text(encoding="utf-8")
        assert_same_layout(source, output)
        assert not output.endswith("\n")  # the seeds have no final newline, nor has their translation
        expected = segment_document(source, "fr").sentences
        assert [(s["paragraph"], s["sentence"], s["source"]) for s in entry["segments"]] == expected
        assert all(s["output"] for s in entry["segments"])
        assert entry["source_tokens"] > 0 and entry["output_tokens"] > 0 and entry["seconds"] > 0
    assert manifest["model"]["source"] == "local" and len(manifest["model"]["content_hash"]) == 64
    assert manifest["generation"]["num_beams"] == 2  # the tiny model's own generation config
    assert manifest["overridden"] == []
    assert manifest["task"] == "translation" and manifest["toolkit_version"]
    assert sorted(os.listdir(out)) == sorted([p.stem + ".txt" for p in SEED_FILES] + ["manifest.json"])


def test_overrides_are_recorded_and_output_is_deterministic(tiny_marian: Path, tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        result = translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--beams", "3", "--batch-size", "2",
                           "--out", str(tmp_path / name), "--quiet")
        assert result.exit_code == 0, result.output
        outs.append((tmp_path / name / f"{SEED_FILES[0].stem}.txt").read_text())
    assert outs[0] == outs[1]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["generation"]["num_beams"] == 3 and manifest["overridden"] == ["num_beams"]
    assert manifest["batch_size"] == 2


def test_long_sentences_are_split_not_truncated(tiny_marian_short: Path, tmp_path: Path) -> None:
    result = translate(str(SEED_FILES[1]), "-m", str(tiny_marian_short), "--out", str(tmp_path / "r"), "--quiet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    split = [s for s in manifest["documents"][0]["segments"] if s["pieces"] > 1]
    assert split, "seed sentences exceed 32 tokens and must be split"
    assert any("32-token input limit" in w for w in manifest["warnings"])
    assert "input limit" in result.stderr


def test_stdin_to_stdout(tiny_marian: Path) -> None:
    result = translate("-", "-m", str(tiny_marian), "--out", "-", input="Bonjour. Au revoir.\n\nMerci.\n")
    assert result.exit_code == 0, result.stderr
    assert_same_layout("Bonjour. Au revoir.\n\nMerci.\n", result.stdout)


def test_jsonl_in_jsonl_out(tiny_marian: Path, tmp_path: Path) -> None:
    """A JSONL corpus gives JSONL shards: each record with its translation; --format txt is refused."""
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"id": "d1", "text": "Premier. Second.", "url": "u1"}) + "\n" +
                      json.dumps({"id": "d2", "text": "Troisième."}) + "\n")
    result = translate(str(source), "-m", str(tiny_marian), "--out", str(tmp_path / "o"), "--quiet")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "o" / "part-00000.jsonl").read_text().splitlines()]
    assert [(r["id"], r.get("url")) for r in rows] == [("d1", "u1"), ("d2", None)]
    assert all(r["translation"] for r in rows)
    details = [json.loads(line) for line in (tmp_path / "o" / "details" / "part-00000.jsonl").read_text().splitlines()]
    assert [s["source"] for s in details[0]["segments"]] == ["Premier.", "Second."]
    refused = translate(str(source), "-m", str(tiny_marian), "--format", "txt", "--out", str(tmp_path / "t"))
    assert refused.exit_code == 2 and "JSONL shards" in refused.stderr


def test_json_summary(tiny_marian: Path, tmp_path: Path) -> None:
    result = translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(tmp_path / "j"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["run_dir"] == str(tmp_path / "j")
    assert summary["documents"][0]["id"] == SEED_FILES[0].stem


def test_blank_documents_are_skipped_with_a_warning(tiny_marian: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_text("  \n\n")
    (tmp_path / "in" / "ok.txt").write_text("Bonjour.")
    result = translate(str(tmp_path / "in"), "-m", str(tiny_marian), "--out", str(tmp_path / "o"), "--quiet")
    # Issue #28.10: a skipped document makes the exit code 3, as the README's exit-code table says (was 0).
    assert result.exit_code == 3, result.output
    assert "empty.txt: empty or whitespace-only document, skipped" in result.stderr
    assert os.listdir(tmp_path / "o") == ["manifest.json", "ok.txt"] or sorted(os.listdir(tmp_path / "o")) == ["manifest.json", "ok.txt"]


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("make_input, fragment", [
    (lambda d: str(d / "missing.txt"), "no such file or directory"),
    (lambda d: (d / "e.txt").write_text(" \n") and str(d / "e.txt"), "every input is empty"),
    (lambda d: (d / "b.txt").write_bytes(b"\x00\x01\x02") and str(d / "b.txt"), "binary"),
    (lambda d: (d / "l.txt").write_bytes("été".encode("latin-1")) and str(d / "l.txt"), "not valid utf-8 at byte offset 0"),
    (lambda d: (d / "sub").mkdir() or str(d / "sub"), "holds no .txt"),
])
def test_input_errors(tiny_marian: Path, tmp_path: Path, make_input, fragment: str) -> None:
    one_line_error(translate(make_input(tmp_path), "-m", str(tiny_marian), "--out", str(tmp_path / "o")), fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--beams", "0"], "--beams must be at least 1"),
    (["--batch-size", "-1"], "--batch-size must be at least 1"),
    (["-m", "no-such-org/no-such-model"], "is not in the local Hugging Face cache and offline mode is on"),
    (["-m", "./no/such/dir"], "unknown model './no/such/dir'"),
    (["-m", "bad name with spaces"], "unknown model"),
])
def test_option_and_model_errors(tmp_path: Path, args: list[str], fragment: str) -> None:
    one_line_error(translate(str(SEED_FILES[0]), *args, "--out", str(tmp_path / "o")), fragment)
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.partial")]


def test_directory_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    one_line_error(translate(str(SEED_FILES[0]), "-m", str(tmp_path / "m")), "not a model directory")


def test_unwritable_output_folder(tiny_marian: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(blocker / "run")), "is not a folder")
    one_line_error(translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(blocker)), "not a folder")


def test_existing_output_needs_overwrite(tiny_marian: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    one_line_error(translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(out)), "--overwrite")
    assert (out / "keep.txt").exists()
    # --overwrite replaces only an earlier toolkit run, never a folder of someone else's files.
    one_line_error(translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(out), "--overwrite"),
                   "not one")
    assert sorted(os.listdir(out)) == ["keep.txt"]
    run = tmp_path / "run"
    assert translate(str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(run), "--quiet").exit_code == 0
    result = translate(str(SEED_FILES[1]), "-m", str(tiny_marian), "--out", str(run), "--overwrite", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(run)) == sorted([SEED_FILES[1].stem + ".txt", "manifest.json"])


def test_failure_midway_leaves_nothing(tiny_marian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.engines.base import TorchEngine

    calls = []
    original = TorchEngine.generate

    def fail_on_second_batch(self, texts, on_batch=None):
        def interrupt(n):
            calls.append(n)
            if len(calls) == 2:
                raise KeyboardInterrupt
            if on_batch:
                on_batch(n)
        return original(self, texts, interrupt)

    monkeypatch.setattr(TorchEngine, "generate", fail_on_second_batch)
    result = translate(str(SEEDS), "-m", str(tiny_marian), "--backend", "torch", "--batch-size", "4",
                       "--out", str(tmp_path / "o"))
    assert result.exit_code == 130 and len(calls) == 2
    assert os.listdir(tmp_path) == []


def test_real_subprocess(tiny_marian: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli", "translate", str(SEED_FILES[1]), "-m", str(tiny_marian),
                           "--out", str(tmp_path / "o"), "--json"], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["documents"][0]["output_file"] == f"{SEED_FILES[1].stem}.txt"
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli", "translate", "nope.txt"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "toolkit: error: nope.txt: no such file or directory"


def test_default_model_comes_from_config_and_is_explained_offline(tmp_path: Path) -> None:
    result = translate(str(SEED_FILES[0]), "--out", str(tmp_path / "o"))
    one_line_error(result, "model 'Helsinki-NLP/opus-mt-fr-en' is not in the local Hugging Face cache")
    assert "toolkit models download Helsinki-NLP/opus-mt-fr-en" in result.stderr


def test_markdown_input_gives_markdown_output(tiny_marian: Path, tmp_path: Path) -> None:
    source = tmp_path / "note.md"
    source.write_bytes(b"# Le titre\r\n\r\n- Premier point. Deuxi\xc3\xa8me point.\r\n> Une citation.\r\n\r\n```\r\ncode ici.\r\n```\r\n")
    result = translate(str(source), "-m", str(tiny_marian), "--src", "fr", "--out", str(tmp_path / "o"), "-q")
    assert result.exit_code == 0, result.output
    output = (tmp_path / "o" / "note.md").read_bytes()
    lines = output.split(b"\r\n")
    assert lines[0].startswith(b"# ") and lines[2].startswith(b"- ") and lines[3].startswith(b"> ")
    assert lines[5:8] == [b"```", b"code ici.", b"```"] and output.endswith(b"\r\n")


def test_local_model_hash_is_remembered_and_follows_changes(tmp_path: Path) -> None:
    from toolkit.models.hub import directory_hash

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    first = directory_hash(folder)
    assert directory_hash(folder) == first
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    assert directory_hash(folder) != first


def test_sentences_of_many_documents_share_batches(tiny_marian: Path, tmp_path: Path, generate_calls: list[int]) -> None:
    sizes = generate_calls
    source = tmp_path / "headlines.jsonl"
    sentences = [s for _, _, s in segment_document(SEED_FILES[0].read_text(), "fr").sentences][:10]
    source.write_text("".join(json.dumps({"id": f"h{i}", "text": s}) + "\n" for i, s in enumerate(sentences)))
    result = translate(str(source), "-m", str(tiny_marian), "--backend", "torch", "--src", "fr", "--out", str(tmp_path / "o"), "-q")
    assert result.exit_code == 0, result.output
    assert sizes == [10]  # one call for all ten documents, not ten calls of one
    details = [json.loads(line) for line in (tmp_path / "o" / "details" / "part-00000.jsonl").read_text().splitlines()]
    assert [d["id"] for d in details] == [f"h{i}" for i in range(10)]
    assert [d["segments"][0]["source"] for d in details] == sentences


@pytest.mark.slow
def test_ctrl_c_on_the_ct2_backend_stops_within_seconds(tmp_path: Path) -> None:
    """Issue 28.8: the first SIGINT stops the run; batches in flight in CTranslate2's threads
    are abandoned, not waited for (a random model that decodes long outputs slowly)."""
    import signal
    import threading
    import time

    from conftest import seed_texts

    from toolkit.models.random import build_marian

    model = build_marian(tmp_path / "slow-model", seed_texts(), d_model=256, layers=2, heads=4, ffn=512,
                         max_length=300, num_beams=4)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOOLKIT_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "toolkit", "translate", *map(str, SEED_FILES), "-m", str(model), "--backend",
               "ct2", "--src", "fr", "--tgt", "en", "--threads", "2", "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                               preexec_fn=interactive_signals)
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for raw in iter(lambda: process.stderr.read(64), b""):  # type: ignore[union-attr]
            lines.append(raw.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not list((tmp_path / "cache").rglob("model.bin")) and time.monotonic() < deadline:
            time.sleep(0.2)  # the conversion to CTranslate2 comes first
        time.sleep(4.0)  # then loading and decoding: batches are in flight
        assert process.poll() is None, "the run finished before it could be interrupted"
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        code = process.wait(timeout=120)
        waited = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    assert code == 130, "".join(lines)
    assert waited < 5, f"{waited:.1f} s from Ctrl-C to exit"
    assert "interrupted; nothing was written" in "".join(lines)
    assert not (tmp_path / "out").exists()


def test_markdown_task_boxes_and_footnotes(tiny_marian: Path, tmp_path: Path) -> None:
    """Issue 28.4: a GFM task box is kept verbatim, a footnote definition's text is translated
    (its label kept), and a `.markdown` file is Markdown (its heading keeps its `#`)."""
    source = tmp_path / "notes.markdown"
    lines = ["# Titre de la note", "", "- [ ] Faire la liste des courses.", "- [x] Appeler le maire.",
             "", "Une phrase avec une note[^1].", "", "[^1]: La note de bas de page est ici."]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--src", "fr", "--tgt", "en",
                                 "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    written = (out / "notes.md").read_text(encoding="utf-8").split("\n")
    assert written[0].startswith("# ") and written[1] == "" and written[4] == ""
    assert written[2].startswith("- [ ] ") and written[3].startswith("- [x] ")
    assert written[7].startswith("[^1]: ") and written[7] != lines[7]  # translated, not passed through
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sources = [seg["source"] for doc in manifest["documents"] for seg in doc.get("segments", [])]
    assert "La note de bas de page est ici." in sources and not any(s.startswith("[") for s in sources)
