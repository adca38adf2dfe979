"""JSONL corpora (issue 13): streamed shards in input order, per-record failures, exact resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.models.random import FRENCH_SAMPLE

runner = CliRunner()


def write_corpus(path: Path, n: int, extra_lines: dict[int, str] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            text = FRENCH_SAMPLE[i % len(FRENCH_SAMPLE)] + " " + FRENCH_SAMPLE[(i * 7) % len(FRENCH_SAMPLE)]
            handle.write(json.dumps({"id": f"doc-{i}", "text": text, "site": "lemonde", "n": i},
                                    ensure_ascii=False) + "\n")
            if extra_lines and i in extra_lines:
                handle.write(extra_lines[i] + "\n")
    return path


def records(folder: Path) -> list[dict]:
    rows = []
    for shard in sorted(folder.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]
    return rows


def files_of(folder: Path) -> dict[str, bytes]:
    """Every output file but the manifest (whose timings differ between runs)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_shards_keep_order_fields_and_report_bad_records(tiny_marian: Path, tmp_path: Path) -> None:
    bad = {3: '{"id": "no-text"}', 5: "{not json", 8: '{"id": "number", "text": 5}', 9: "", 11: '["a list"]',
           12: '{"id": "lone", "text": "\\ud800"}', 13: '{"id": true, "text": "Bonjour."}'}
    corpus = write_corpus(tmp_path / "news.jsonl", 17, bad)
    out = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "5", "--out",
                                 str(out), "-q"])
    assert result.exit_code == 3, result.output
    rows = records(out)
    assert [r["id"] for r in rows] == [f"doc-{i}" for i in range(17)]  # input order, each once
    for i, row in enumerate(rows):
        assert set(row) == {"id", "text", "site", "n", "translation"} | ({"source_lang"} & set(row))
        assert row["n"] == i and row["site"] == "lemonde" and isinstance(row["translation"], str)
    # 17 records and 6 bad ones (the blank line is not a record): 23 in shards of 5.
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == [f"part-0000{i}.jsonl" for i in range(5)]
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failures] == ["no-text", None, "number", None, "lone", True]
    assert [f["input"].rsplit(":", 1)[1] for f in failures] == ["5", "8", "12", "17", "19", "21"]
    assert "lacks 'text'" in failures[0]["reason"] and "invalid JSON" in failures[1]["reason"]
    assert "lone surrogate" in failures[4]["reason"] and "'id'" in failures[5]["reason"]
    details = [json.loads(line) for p in sorted((out / "details").glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert [d["id"] for d in details] == [r["id"] for r in rows]
    assert all(d["segments"] and "seconds" not in d for d in details)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layout"] == "shards" and manifest["totals"]["records"] == 23
    assert manifest["totals"]["outputs"] == 17 and manifest["totals"]["failed"] == 6
    assert [s["file"] for s in manifest["shards"]] == [f"part-0000{i}.jsonl" for i in range(5)]
    assert "documents" not in manifest and not (out / "progress.jsonl").exists() and not (out / ".toolkit-run").exists()


def test_one_unroutable_record_fails_alone(tiny_marian: Path, tmp_path: Path) -> None:
    """A record already in the target language (--src auto) is a failure of its own; the rest finish."""
    corpus = write_corpus(tmp_path / "c.jsonl", 4, {1: json.dumps({"id": "en", "text": "The cat sat.", "lang": "en"})})
    out = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--src", "auto", "--out",
                                 str(out), "-q"])
    assert result.exit_code == 3, result.output
    assert [r["id"] for r in records(out)] == ["doc-0", "doc-1", "doc-2", "doc-3"]
    assert all(r["source_lang"] == "fr" for r in records(out))
    failure = json.loads((out / "failures.jsonl").read_text())
    assert failure["id"] == "en" and "target language" in failure["reason"]


def _toolkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", *args]


@pytest.mark.slow
def test_sigkill_then_resume_is_byte_identical(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "big.jsonl", 1200, {600: "{broken"})
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--backend", "ct2", "--shard-size", "40", "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    whole = tmp_path / "whole"
    subprocess.run(_toolkit(*command, "--out", str(whole)), env=env, check=False, capture_output=True)
    killed = tmp_path / "killed"
    process = subprocess.Popen(_toolkit(*command, "--out", str(killed)), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    log = killed / "progress.jsonl"

    def commits() -> int:
        return sum('"shard"' in line for line in log.read_text().splitlines()) if log.is_file() else 0

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if commits() >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    committed = commits()
    assert 3 <= committed < 31 and (killed / ".toolkit-run").is_file() and not (killed / "manifest.json").exists()

    again = subprocess.run(_toolkit(*command, "--out", str(killed)), env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "interrupted run" in again.stderr and "--resume" in again.stderr
    resumed = subprocess.run(_toolkit(*command, "--out", str(killed), "--resume", "--threads", "1"), env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 3, resumed.stderr  # one broken record
    assert files_of(killed) == files_of(whole)
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["resumed"] is True and manifest["totals"]["shards_resumed"] >= committed
    assert manifest["totals"]["outputs"] == 1200 and manifest["totals"]["failed"] == 1
    assert (killed / "manifest.json").stat().st_size < 100_000
    finished = subprocess.run(_toolkit(*command, "--out", str(killed), "--resume"), env=env, capture_output=True,
                              text=True)
    assert finished.returncode == 0 and "already finished" in finished.stderr


def _interrupted_run(tiny_marian: Path, corpus: Path, out: Path, monkeypatch: pytest.MonkeyPatch,
                     extra: tuple[str, ...] = ()) -> None:
    """A run stopped (as by Ctrl-C) after its second shard."""
    from toolkit.io.sharded_run import ShardedRun

    original = ShardedRun.commit

    def commit(self: ShardedRun, *args: object, **kwargs: object) -> dict:
        if len(self.done) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(ShardedRun, "commit", commit)
        result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out",
                                     str(out), "-q", *extra])
    assert result.exit_code == 130
    assert sum('"shard"' in line for line in (out / "progress.jsonl").read_text().splitlines()) == 2


def test_resume_refuses_other_settings_or_inputs(tiny_marian: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    base = ["translate", str(corpus), "-m", str(tiny_marian), "--out", str(out), "-q", "--resume"]
    other_beams = runner.invoke(app, [*base, "--shard-size", "3", "--beams", "2"])
    assert other_beams.exit_code == 2 and "settings or inputs changed (generation.num_beams" in other_beams.output
    other_shards = runner.invoke(app, [*base, "--shard-size", "4"])
    assert other_shards.exit_code == 2 and "shard_size" in other_shards.output
    with corpus.open("a") as handle:
        handle.write(json.dumps({"id": "late", "text": "Une phrase de plus."}) + "\n")
    grown = runner.invoke(app, [*base, "--shard-size", "3"])
    assert grown.exit_code == 2 and "inputs" in grown.output
    assert sum('"shard"' in line for line in (out / "progress.jsonl").read_text().splitlines()) == 2  # untouched


def test_overwrite_discards_an_interrupted_run_but_not_foreign_files(tiny_marian: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    (out / "notes.txt").write_text("mine")
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out", str(out), "-q"]
    blocked = runner.invoke(app, [*command, "--overwrite"])
    assert blocked.exit_code == 2 and "notes.txt" in blocked.output and (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    assert runner.invoke(app, [*command, "--overwrite"]).exit_code == 0
    assert [r["id"] for r in records(out)] == [f"doc-{i}" for i in range(10)]


def test_resumed_run_equals_an_uninterrupted_one(tiny_marian: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "-q"]
    assert runner.invoke(app, [*command, "--out", str(whole)]).exit_code == 0
    _interrupted_run(tiny_marian, corpus, cut, monkeypatch)
    shard_one = (cut / "part-00001.jsonl").stat().st_mtime_ns
    assert runner.invoke(app, [*command, "--out", str(cut), "--resume"]).exit_code == 0
    assert files_of(cut) == files_of(whole)
    assert (cut / "part-00001.jsonl").stat().st_mtime_ns == shard_one  # kept, not made again


def test_a_run_that_fails_before_any_shard_leaves_nothing(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    out = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tmp_path / "no-model"), "--out", str(out), "-q"])
    assert result.exit_code == 2 and not out.exists()


def test_stdout_streams_records_in_order(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 7)
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "2", "--out", "-"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [f"doc-{i}" for i in range(7)] and all("translation" in r for r in rows)


def test_summarize_and_pipeline_corpora(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 5, {2: json.dumps({"id": "blank", "text": "  "})})
    summaries = tmp_path / "summaries"
    result = runner.invoke(app, ["summarize", str(corpus), "-m", "lead-1", "--lang", "fr", "--shard-size", "4",
                                 "--out", str(summaries), "-q"])
    assert result.exit_code == 0, result.output
    rows = records(summaries)
    assert [r["id"] for r in rows] == ["doc-0", "doc-1", "doc-2", "blank", "doc-3", "doc-4"]
    assert rows[0]["summary"] == FRENCH_SAMPLE[0] and rows[3]["summary"] == ""
    both = tmp_path / "both"
    result = runner.invoke(app, ["pipeline", str(corpus), "--translator", str(tiny_marian), "--summarizer", "lead-1",
                                 "--src", "fr", "--shard-size", "4", "--out", str(both), "-q"])
    assert result.exit_code == 0, result.output
    rows = records(both)
    assert [r["id"] for r in rows] == ["doc-0", "doc-1", "doc-2", "blank", "doc-3", "doc-4"]
    assert all({"translation", "summary"} <= set(r) for r in rows)
    # The summary is the lead sentence of the translation it was made from.
    assert all(r["translation"].startswith(r["summary"]) for r in rows)
    details = [json.loads(line) for line in (both / "details" / "part-00000.jsonl").read_text().splitlines()]
    assert details[0]["stages"]["translations"]["segments"][0]["source"] == FRENCH_SAMPLE[0]
    scored = runner.invoke(app, ["evaluate", "--hyp", str(summaries), "--ref", str(summaries), "--out",
                                 str(tmp_path / "eval"), "--metrics", "rouge1", "--json"])
    assert scored.exit_code == 0, scored.output
    # Five summaries equal their references; the blank document's empty one scores 0, as in rouge-score.
    assert json.loads(scored.stdout)["scores"][0]["score"] == pytest.approx(500 / 6)


def test_corpus_options_on_text_inputs_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("Bonjour.\n")
    corpus = write_corpus(tmp_path / "c.jsonl", 1)
    assert "--resume applies to JSONL" in runner.invoke(app, ["summarize", str(text), "-m", "lead-1", "--resume"]).output
    mixed = runner.invoke(app, ["summarize", str(text), str(corpus), "-m", "lead-1"])
    assert mixed.exit_code == 2 and "separately" in mixed.output
    latin = runner.invoke(app, ["summarize", str(corpus), "-m", "lead-1", "--encoding", "latin-1"])
    assert latin.exit_code == 2 and "read as UTF-8" in latin.output


def test_python_api_gives_the_cli_outputs(tiny_marian: Path, tmp_path: Path) -> None:
    from toolkit import CorpusOptions, EngineOptions, GenerationOptions, TranslateJob, process_corpus

    corpus = write_corpus(tmp_path / "c.jsonl", 9, {4: "{broken"})
    cli = tmp_path / "cli"
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--src", "fr", "--backend", "ct2",
                                 "--shard-size", "4", "--out", str(cli), "-q"])
    assert result.exit_code == 3, result.output
    job = TranslateJob(str(tiny_marian), "fr", "en", EngineOptions(backend="ct2"), GenerationOptions())
    done = process_corpus(job, [corpus], tmp_path / "api", CorpusOptions(shard_size=4))
    assert (done.records, done.outputs, done.failed, done.run_dir) == (10, 9, 1, (tmp_path / "api").resolve())
    assert files_of(tmp_path / "api") == files_of(cli)


class _Upper:
    """A task that fails on documents holding "BOOM" (a model error on one input) and, when
    ``broken``, on every document: the isolation logic, whatever the model would emit."""

    output_keys = ("translation",)

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.calls: list[int] = []

    def run(self, docs, on_progress=None):  # type: ignore[no-untyped-def]
        from toolkit.execution.work import DocumentOutput

        self.calls.append(len(docs))
        if self.broken or any("BOOM" in d.text for d in docs):
            raise RuntimeError("cannot decode")
        return [DocumentOutput({"translation": d.text.upper()}, {"warnings": []}) for d in docs]

    def describe(self) -> dict:
        return {"task": "translation"}


def test_a_model_error_on_one_record_fails_that_record_only(tmp_path: Path) -> None:
    from toolkit.execution.work import CHUNK_DOCUMENTS, ShardProcessor
    from toolkit.io.shards import plan_shards

    corpus = tmp_path / "c.jsonl"
    texts = [f"phrase {i}" for i in range(70)]
    texts[5] = "BOOM"
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    task = _Upper()
    [spec] = list(plan_shards([corpus], 100))
    out = ShardProcessor(task).process(spec)
    assert [json.loads(line)["id"] for line in out.lines] == [i for i in range(70) if i != 5]
    assert out.failures == [{"id": 5, "input": f"{corpus}:6", "reason": "RuntimeError: cannot decode"}]
    # The failing chunk was retried document by document; the next chunk ran whole.
    assert task.calls == [CHUNK_DOCUMENTS] + [1] * CHUNK_DOCUMENTS + [70 - CHUNK_DOCUMENTS]


def test_a_run_where_nothing_works_stops_instead_of_failing_every_record(tmp_path: Path) -> None:
    from toolkit.execution.work import ShardProcessor
    from toolkit.io.shards import plan_shards

    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    [spec] = list(plan_shards([corpus], 10))
    with pytest.raises(RuntimeError, match="cannot decode"):
        ShardProcessor(_Upper(broken=True)).process(spec)


def test_an_interrupted_run_inside_the_input_folder_is_not_read_back(tiny_marian: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    corpus = write_corpus(folder / "c.jsonl", 10)
    out = folder / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    # The folder holds the same one input file: its shards are not read as more input.
    result = runner.invoke(app, ["translate", str(folder), "-m", str(tiny_marian), "--shard-size", "3", "--out",
                                 str(out), "-q", "--resume"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in records(out)] == [f"doc-{i}" for i in range(10)]


def test_files_of_yours_that_look_like_shards_are_never_deleted(tiny_marian: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    mine = {"part-mine.jsonl": "precious", "failures.jsonl": "mine too", "details/part-notes.jsonl": "notes",
            "part-00005.jsonl": "a name the run would use"}
    for name, text in mine.items():
        (out / name).write_text(text)
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out", str(out), "-q"]
    for extra in ("--overwrite", "--resume"):
        refused = runner.invoke(app, [*command, extra])
        assert refused.exit_code == 2 and "did not write" in refused.output, refused.output
    assert all((out / name).read_text() == text for name, text in mine.items())


def test_overwrite_puts_the_earlier_run_back_when_the_new_one_cannot_start(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 4)
    out = tmp_path / "run"
    assert runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--out", str(out), "-q"]).exit_code == 0
    before = files_of(out)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(broken), "--src", "fr", "--out", str(out), "-q",
                                 "--overwrite"])
    assert result.exit_code == 2, result.output
    assert files_of(out) == before and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-model", "c.jsonl", "run"]


def test_a_shard_moved_away_is_made_again(tiny_marian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "-q"]
    assert runner.invoke(app, [*command, "--out", str(whole)]).exit_code == 0
    _interrupted_run(tiny_marian, corpus, cut, monkeypatch)
    (cut / "part-00001.jsonl").write_text("edited\n")
    edited = runner.invoke(app, [*command, "--out", str(cut), "--resume"])
    assert edited.exit_code == 2 and "part-00001.jsonl changed" in edited.output and "move it away" in edited.output
    (cut / "part-00001.jsonl").rename(tmp_path / "kept-by-me.jsonl")
    assert runner.invoke(app, [*command, "--out", str(cut), "--resume"]).exit_code == 0
    assert files_of(cut) == files_of(whole)


def test_messages_of_an_interrupted_and_a_finished_run(tiny_marian: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.io.sharded_run import ShardedRun

    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    original = ShardedRun.commit

    def commit(self: ShardedRun, *args: object, **kwargs: object) -> dict:
        if len(self.done) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out", str(out), "-q"]
    with monkeypatch.context() as patch:
        patch.setattr(ShardedRun, "commit", commit)
        stopped = runner.invoke(app, command)
    assert stopped.exit_code == 130
    lines = [line for line in stopped.stderr.splitlines() if line.startswith("toolkit:")]
    assert lines == [f"toolkit: interrupted; 2 shard(s) kept in {out.resolve()}: continue with the same command and "
                     "--resume"]
    assert runner.invoke(app, [*command, "--resume"]).exit_code == 0
    again = runner.invoke(app, [*command, "--resume", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["totals"]["outputs"] == 10
    other = runner.invoke(app, [*command, "--resume", "--beams", "3"])
    assert other.exit_code == 2 and "generation.num_beams" in other.output


def test_a_closed_pipe_stops_the_run_quietly(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 3000)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(_toolkit("summarize", str(corpus), "-m", "lead-1", "--lang", "fr", "--shard-size", "10",
                                        "--out", "-", "-q"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in process.stderr.read().decode()


def test_python_api_checks_inputs_and_returns_a_finished_run(tiny_marian: Path, tmp_path: Path) -> None:
    from toolkit import CorpusOptions, EngineOptions, GenerationOptions, ToolkitError, TranslateJob, process_corpus

    folder = tmp_path / "in"
    folder.mkdir()
    write_corpus(folder / "c.jsonl", 4)
    job = TranslateJob(str(tiny_marian), "fr", "en", EngineOptions(backend="ct2"), GenerationOptions())
    first = process_corpus(job, [folder], tmp_path / "run", CorpusOptions(shard_size=2))
    again = process_corpus(job, [folder], tmp_path / "run", CorpusOptions(shard_size=2), resume=True)
    assert (again.outputs, again.run_dir) == (first.outputs, first.run_dir) == (4, (tmp_path / "run").resolve())
    (tmp_path / "a.txt").write_text("Bonjour.")
    (tmp_path / "empty.jsonl").write_text("\n")
    for inputs, message in (([tmp_path / "missing.jsonl"], "no such file"), ([tmp_path / "a.txt"], "JSONL"),
                            ([], "no JSONL input"), ([tmp_path / "empty.jsonl"], "no records")):
        with pytest.raises(ToolkitError, match=message):
            process_corpus(job, inputs, tmp_path / "other")
    with pytest.raises(ToolkitError, match="^shard_size: "):
        CorpusOptions(shard_size=0)
    assert not (tmp_path / "other").exists()


def test_evaluate_refuses_a_sharded_run_with_duplicate_ids(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": "same", "text": t}) + "\n" for t in ("Un. Deux.", "Trois.")))
    out = tmp_path / "run"
    assert runner.invoke(app, ["summarize", str(corpus), "-m", "lead-1", "--lang", "fr", "--out", str(out),
                               "-q"]).exit_code == 0
    result = runner.invoke(app, ["evaluate", "--hyp", str(out), "--ref", str(out), "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and "appears twice" in result.output


# -- issue 30, items 1-3: --resume compares what decides the outputs ----------------------------

# A changed value for every field of the option objects and the jobs: a new field without an entry
# here fails the test, so each one gets a decision (fingerprinted, or NOT_FINGERPRINTED and why).
OTHER_VALUES: dict[str, object] = {
    "EngineOptions.backend": "ct2", "EngineOptions.device": "cpu", "EngineOptions.quantization": "int8",
    "EngineOptions.dtype": "float32", "EngineOptions.threads": 3, "EngineOptions.batch_size": 3,
    "EngineOptions.max_batch_tokens": 100, "EngineOptions.revision": "v2", "EngineOptions.confidence": True,
    "GenerationOptions.num_beams": 3, "GenerationOptions.max_length": 10, "GenerationOptions.max_new_tokens": 5,
    "GenerationOptions.min_length": 1, "GenerationOptions.min_new_tokens": 1, "GenerationOptions.length_penalty": 0.5,
    "GenerationOptions.no_repeat_ngram_size": 2,
    "CorpusOptions.shard_size": 3, "CorpusOptions.engine": "ray", "CorpusOptions.ray_address": "10.0.0.1:6379",
    "CorpusOptions.actors": 2,
    "EngineOptions.dedupe": False, "EngineOptions.memory": "news.tm", "EngineOptions.memory_max_entries": 5,
    "TranslateJob.src": "de", "TranslateJob.tgt": "fr", "TranslateJob.allow_pivot": False,
    "TranslateJob.command": "pipeline",
}


def test_every_option_that_can_change_an_output_changes_the_fingerprint(tiny_marian: Path, tiny_bart: Path,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from toolkit.config import packaged
    from toolkit.execution.corpus import corpus_fingerprint
    from toolkit.execution.jobs import NOT_FINGERPRINTED, PipelineJob, SummarizeJob, TranslateJob
    from toolkit.options import CorpusOptions, EngineOptions, GenerationOptions, QualityOptions
    from toolkit.text.glossary import load_glossary

    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    registry = tmp_path / "registry.yaml"
    registry.write_text("models:\n  - {id: x/opus-mt-fr-en, kind: direct, pairs: [fr-en]}\n")
    base = TranslateJob(str(tiny_marian), "fr", "en", EngineOptions(), GenerationOptions())
    reference = corpus_fingerprint(base, [corpus], CorpusOptions())
    changed: dict[str, object] = {}
    for owner in (EngineOptions, GenerationOptions, CorpusOptions):
        for field in owner.model_fields:
            name = f"{owner.__name__}.{field}"
            assert name in OTHER_VALUES, f"{name}: decide whether it changes outputs (OTHER_VALUES, NOT_FINGERPRINTED)"
            job, options = base, CorpusOptions()
            if owner is CorpusOptions:
                options = options.replace(**{field: OTHER_VALUES[name]})
            elif owner is EngineOptions:
                job = dataclasses.replace(base, engine=base.engine.replace(**{field: OTHER_VALUES[name]}))
            else:
                job = dataclasses.replace(base, generation=base.generation.replace(**{field: OTHER_VALUES[name]}))
            changed[name] = corpus_fingerprint(job, [corpus], options) != reference
    other_model = tmp_path / "other-model"
    shutil.copytree(tiny_marian, other_model)
    per_job = {"TranslateJob.model": str(other_model), "TranslateJob.registry_path": registry,
               "TranslateJob.glossary": load_glossary(None, ["Moscou"]),
               "TranslateJob.engine": EngineOptions(batch_size=2),
               "TranslateJob.generation": GenerationOptions(num_beams=4),
               "TranslateJob.quality": QualityOptions(length_ratio_z=3.0)}
    for field in dataclasses.fields(TranslateJob):
        name = f"TranslateJob.{field.name}"
        value = per_job.get(name, OTHER_VALUES.get(name))
        assert value is not None, f"{name}: decide whether it changes outputs"
        if name == "TranslateJob.model":  # the same files elsewhere are another path: also refused
            (other_model / "weights-note.txt").write_text("other content")
        changed[name] = corpus_fingerprint(dataclasses.replace(base, **{field.name: value}), [corpus],
                                           CorpusOptions()) != reference
    unchanged = sorted(name for name, differs in changed.items() if not differs)
    assert unchanged == sorted(k for k in NOT_FINGERPRINTED if k in changed)
    # The summariser's and the pipeline's own fields too.
    defaults = tmp_path / "defaults.yaml"  # the summary's translation (fr-en) by a local model
    defaults.write_text(packaged("defaults.yaml").read_text().replace("Helsinki-NLP/opus-mt-fr-en", str(tiny_marian)))
    monkeypatch.setenv("TOOLKIT_DEFAULTS", str(defaults))
    summarize = SummarizeJob(str(tiny_bart), "fr", EngineOptions(), GenerationOptions())
    summarize_print = summarize.fingerprint()
    for field, value in {"model": "lead-2", "lang": "en", "summary_lang": "en", "engine": EngineOptions(batch_size=2),
                         "generation": GenerationOptions(num_beams=4), "translation_engine": EngineOptions(dtype="float32"),
                         "command": "pipeline"}.items():
        job = dataclasses.replace(summarize, **{field: value})
        if field == "translation_engine":
            job = dataclasses.replace(job, summary_lang="en")
            summarize_print = dataclasses.replace(summarize, summary_lang="en").fingerprint()
        assert job.fingerprint() != summarize_print, field
        summarize_print = summarize.fingerprint()
    assert {f.name for f in dataclasses.fields(SummarizeJob)} == {"model", "lang", "engine", "generation", "summary_lang",
                                                                 "translation_engine", "command"}
    pipeline = PipelineJob(base, "lead-1", EngineOptions(), GenerationOptions())
    for field, value in {"translator": dataclasses.replace(base, src="de"), "summarizer_model": "lead-2",
                         "summary_engine": EngineOptions(batch_size=2), "summary_generation": GenerationOptions(num_beams=3),
                         "order": "summarize-first", "summary_lang": "de", "command": "translate"}.items():
        assert dataclasses.replace(pipeline, **{field: value}).fingerprint() != pipeline.fingerprint(), field
    assert {f.name for f in dataclasses.fields(PipelineJob)} == {"translator", "summarizer_model", "summary_engine",
                                                                "summary_generation", "order", "summary_lang", "command"}


def test_resume_refuses_a_model_replaced_in_place(tiny_marian: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import seed_texts
    from toolkit.models.random import build_marian

    model = tmp_path / "model"
    shutil.copytree(tiny_marian, model)
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    _interrupted_run(model, corpus, out, monkeypatch)
    shutil.rmtree(model)
    build_marian(model, seed_texts(), seed=1)  # other weights, same folder
    command = ["translate", str(corpus), "-m", str(model), "--shard-size", "3", "--out", str(out), "-q", "--resume"]
    refused = runner.invoke(app, command)
    assert refused.exit_code == 2, refused.output
    assert "cannot resume: the settings or inputs changed (model.content_hash" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert sum('"shard"' in line for line in (out / "progress.jsonl").read_text().splitlines()) == 2  # untouched


def test_resume_refuses_a_relative_model_path_that_names_another_model(tiny_marian: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import seed_texts
    from toolkit.models.random import build_marian

    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(tiny_marian, first / "model")
    build_marian(second / "model", seed_texts(), seed=1)
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    monkeypatch.chdir(first)
    _interrupted_run(Path("model"), corpus, out, monkeypatch)
    monkeypatch.chdir(second)
    refused = runner.invoke(app, ["translate", str(corpus), "-m", "model", "--shard-size", "3", "--out", str(out), "-q",
                                  "--resume"])
    assert refused.exit_code == 2 and "model.content_hash" in refused.output, refused.output


def test_resume_refuses_a_keep_term_added(tiny_marian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    out = tmp_path / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    command = ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out", str(out), "-q", "--resume"]
    refused = runner.invoke(app, [*command, "--keep", "Moscou"])
    assert refused.exit_code == 2 and "settings or inputs changed (glossary" in refused.output, refused.output
    assert runner.invoke(app, command).exit_code == 0


def test_resume_refuses_a_same_size_edit_with_the_time_restored(tiny_marian: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 10)
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "padding": "x" * (1 << 20)}) + "\n"  # the edit below lies past the first MiB
    corpus.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "run"
    _interrupted_run(tiny_marian, corpus, out, monkeypatch)
    stat = corpus.stat()
    assert (1 << 20) < stat.st_size < (2 << 20)
    data = corpus.read_bytes()
    edited = data.replace(b'"doc-1"', b'"doc-X"', 1)  # in shard 0, already committed
    assert len(edited) == len(data) and edited != data
    corpus.write_bytes(edited)
    os.utime(corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    refused = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--shard-size", "3", "--out",
                                  str(out), "-q", "--resume"])
    assert refused.exit_code == 2 and "inputs[0].sha256" in refused.output, refused.output


def test_failures_stay_on_disk_and_come_out_in_shard_order(tmp_path: Path) -> None:
    """Issue 30.7: memory keeps each shard's counts, not its failed records; failures.jsonl is
    streamed from the log in shard order, also when a resumed run makes a shard again late."""
    from toolkit.io.runs import base_manifest
    from toolkit.io.sharded_run import ShardedRun

    def failures(index: int) -> list[dict]:
        return [{"input": f"c.jsonl:{index * 10 + k}", "id": f"{index}-{k}", "reason": "invalid JSON"} for k in range(3)]

    def commit(run: ShardedRun, index: int) -> None:
        run.commit(index, [json.dumps({"id": index})], [], {"records": 4, "outputs": 1, "failed": 3,
                                                                       "failures": failures(index)})

    out = tmp_path / "run"
    with ShardedRun(out, {"x": 1}) as run:
        for index in range(3):
            commit(run, index)
        assert all("failures" not in entry for entry in run.done.values())
    (out / "part-00001.jsonl").rename(tmp_path / "moved.jsonl")
    with ShardedRun(out, {"x": 1}, resume=True) as run:
        assert sorted(run.done) == [0, 2] and all("failures" not in entry for entry in run.done.values())
        commit(run, 1)
        commit(run, 3)
        run.finish({**base_manifest("translate"), "task": "translation", "layout": "shards", "format": "jsonl",
                    "engine": "local", "cluster": None, "shard_size": 4,
                    "totals": {"records": 16, "outputs": 4, "failed": 12, "shards": 4}})
    written = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert written == [f for index in range(4) for f in failures(index)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["failed"] for s in manifest["shards"]] == [3, 3, 3, 3] and "failures" not in manifest["shards"][0]
