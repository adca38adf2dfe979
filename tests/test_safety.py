"""Run folders that can never escape or destroy, and bad inputs that get one clear line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ToolkitError
from toolkit.io.runs import MARKER, RunFolder
from toolkit.io.safe_paths import OutputNames, UnsafePathError, inside, safe_stem

runner = CliRunner()


def invoke(*args: str, input: str | bytes | None = None):
    return runner.invoke(app, list(args), input=input)


def one_line_error(result, fragment: str, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def head() -> dict:
    from toolkit.io.runs import base_manifest

    return {**base_manifest("evaluate"), "task": "evaluation"}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


SENTENCE = "Le gouvernement a annoncé lundi un nouveau plan. Les syndicats ont réagi aussitôt."


def lead(*args: str):
    """summarize with lead-1: the whole run-folder machinery, no model needed."""
    return invoke("summarize", *args, "-m", "lead-1", "--lang", "fr", "--quiet")


# 1. Path traversal through ids -------------------------------------------------------------

@pytest.mark.parametrize("doc_id", ["../../escape", "/abs/path/x", "..", ".", "a/../../b", "con", "x" * 400,
                                    "bad\x00name", "new\nline", "C:\\windows\\evil", ".hidden", "sub/../../../up"])
def test_hostile_ids_stay_inside_the_run_folder(tmp_path: Path, doc_id: str) -> None:
    """JSONL ids are data in the shards, never file names; they come back verbatim."""
    corpus = write_jsonl(tmp_path / "in.jsonl", [{"id": doc_id, "text": SENTENCE}, {"id": "plain", "text": SENTENCE}])
    work = tmp_path / "work"
    work.mkdir()
    out = work / "deep" / "run"
    result = lead(str(corpus), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in work.iterdir()) == ["deep"] and sorted(p.name for p in (work / "deep").iterdir()) == ["run"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "details", "details/part-00000.jsonl", "failures.jsonl", "manifest.json", "part-00000.jsonl"]
    ids = [json.loads(line)["id"] for line in (out / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ids == [doc_id, "plain"]
    assert not (tmp_path / "escape.txt").exists() and not Path("/abs/path/x.txt").exists()


def test_readable_ids_are_kept_and_unsafe_ones_hashed() -> None:
    assert safe_stem("article-12_fr") == "article-12_fr"
    assert safe_stem("dépêche été") == "dépêche été"
    assert safe_stem("2024/01/story") == "2024/01/story"  # folder inputs keep their sub-folders
    for unsafe in ("../x", "/x", "a\\b", "con", "a:b", ".git", "x" * 300, "tab\there"):
        stem = safe_stem(unsafe)
        assert stem != unsafe and "/" not in stem and len(stem.encode()) < 100


def test_an_id_cannot_impersonate_another_ids_hashed_name() -> None:
    hashed = safe_stem("a/../b")
    names = OutputNames()
    assert names.path_for("a/../b", ".txt") != names.path_for(hashed, ".txt")


def test_case_and_folder_collisions_get_distinct_files() -> None:
    names = OutputNames()
    paths = [names.path_for(i, ".txt") for i in ("Story", "story", "a.txt", "a.txt/b", "a")]
    assert len({p.casefold() for p in paths}) == len(paths)
    assert names.path_for("Story", ".txt") == paths[0]  # stable for the same id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=12, unique=True))
def test_any_ids_map_one_to_one_inside_the_run_folder(tmp_path_factory: pytest.TempPathFactory, ids: list[str]) -> None:
    parent = tmp_path_factory.mktemp("prop")
    out = parent / "run"
    with RunFolder(out) as run:
        paths = [run.path_for(doc_id, ".txt") for doc_id in ids]
        for path, doc_id in zip(paths, ids):
            run.write_text(path, doc_id.replace("\x00", ""))
        run.commit(head())
    assert len({p.casefold() for p in paths}) == len(ids)
    assert [p.name for p in parent.iterdir()] == ["run"]
    for path in paths:
        assert (out / path).resolve().is_relative_to(out.resolve()) and (out / path).is_file()
    assert len([p for p in out.rglob("*") if p.is_file()]) == len(ids) + 1  # + manifest.json


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    os.symlink("/tmp", tmp_path / "run" / "link")
    for bad in ("../x", "/etc/passwd", "a/../../x", "link/x", ""):
        with pytest.raises(UnsafePathError):
            inside(tmp_path / "run", bad)
    assert inside(tmp_path / "run", "a/b.txt") == (tmp_path / "run" / "a" / "b.txt").resolve()


# 2. --overwrite deletes only what the toolkit made --------------------------------------------

def test_overwrite_refuses_an_input_folder(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text(SENTENCE)
    before = tree(inputs)
    one_line_error(lead(str(inputs), "--out", str(inputs), "--overwrite"), "is or contains the input")
    one_line_error(lead(str(inputs / "a.txt"), "--out", str(tmp_path), "--overwrite"), "is or contains")
    assert tree(inputs) == before


def test_overwrite_refuses_the_current_folder_home_and_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "code.py").write_text("print(1)")
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    monkeypatch.chdir(project)
    before = tree(project)
    one_line_error(lead(str(doc), "--out", str(project), "--overwrite"), "the current folder")
    one_line_error(lead(str(doc), "--out", ".", "--overwrite"), "the current folder")
    one_line_error(lead(str(doc), "--out", str(tmp_path), "--overwrite"), "the current folder")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    one_line_error(lead(str(doc), "--out", str(tmp_path / "home"), "--overwrite"), "your home folder")
    one_line_error(lead(str(doc), "--out", "/", "--overwrite"), "the root folder")
    assert tree(project) == before


def test_overwrite_replaces_only_an_earlier_run_with_nothing_foreign(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("my notes")
    one_line_error(lead(str(doc), "--out", str(other), "--overwrite"), "replaces only an earlier toolkit run")
    assert tree(other) == {"mine.txt": b"my notes"}

    out = tmp_path / "run"
    assert lead(str(doc), "--out", str(out)).exit_code == 0
    (out / "added-by-user.txt").write_text("keep me")
    one_line_error(lead(str(doc), "--out", str(out), "--overwrite"), "holds files the toolkit did not write")
    assert (out / "added-by-user.txt").read_text() == "keep me"
    (out / "added-by-user.txt").unlink()
    result = lead(str(doc), "--out", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(tree(out)) == ["doc.txt", "manifest.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# 3. Races ---------------------------------------------------------------------------------------

def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    with RunFolder(tmp_path / "run"):
        line = one_line_error(lead(str(doc), "--out", str(tmp_path / "run")), "another run (pid")
        assert f"pid {os.getpid()}" in line
    assert lead(str(doc), "--out", str(tmp_path / "run")).exit_code == 0  # the lock was released


def test_files_added_to_the_target_during_a_run_are_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.mkdir()
    run = RunFolder(target)
    run.write_text("a.txt", "new")
    (target / "arrived.txt").write_text("someone else's")
    with pytest.raises(ToolkitError, match="changed while the run was working"):
        run.commit(head())
    assert tree(target) == {"arrived.txt": b"someone else's"}
    assert run.partial.is_dir()  # the finished work is kept and named in the message

    earlier = tmp_path / "earlier"
    with RunFolder(earlier) as first:
        first.write_text("x.txt", "old")
        first.commit(head())
    again = RunFolder(earlier, overwrite=True)
    (earlier / "arrived.txt").write_text("someone else's")
    with pytest.raises(ToolkitError, match="changed while the run was working"):
        again.commit(head())
    assert tree(earlier)["arrived.txt"] == b"someone else's" and tree(earlier)["x.txt"] == b"old"


# 4. Fail fast -----------------------------------------------------------------------------------

def test_unusable_targets_fail_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit.tasks.summarize

    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    monkeypatch.setattr(toolkit.tasks.summarize.LeadSummarizer, "summarize_document",
                        lambda *a, **k: pytest.fail("work started before the target was checked"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    one_line_error(lead(str(doc), "--out", "."), "the current folder")
    mount = tmp_path / "mnt"
    mount.mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mount)
    one_line_error(lead(str(doc), "--out", str(mount)), "mount point")


# 5. Interrupted runs ----------------------------------------------------------------------------

def test_stale_partial_folders_are_removed_but_foreign_ones_kept(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    stale = tmp_path / ".run.partial-999999"
    stale.mkdir()
    (stale / MARKER).write_text(json.dumps({"state": "partial", "pid": 999999}))
    (stale / "half.txt").write_text("x")
    lookalike = tmp_path / ".run.partial-888888"
    lookalike.mkdir()
    (lookalike / "user.txt").write_text("not ours")
    assert lead(str(doc), "--out", str(tmp_path / "run")).exit_code == 0
    assert not stale.exists() and (lookalike / "user.txt").read_text() == "not ours"


SIGNAL_SCRIPT = """
import os, signal, sys, time
import toolkit.tasks.summarize as s
SIG = getattr(signal, sys.argv[1])
original = s.LeadSummarizer.summarize_document
def interrupted(self, doc, on_batch=None):
    os.kill(os.getpid(), SIG)
    time.sleep(5)
    return original(self, doc, on_batch)
s.LeadSummarizer.summarize_document = interrupted
from toolkit.cli import main
sys.argv = ["toolkit", "summarize", sys.argv[2], "-m", "lead-1", "--lang", "fr", "--out", sys.argv[3], "-q"]
main()
"""


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_signals_clean_up_and_exit_with_their_code(tmp_path: Path, name: str, code: int) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    # A shell's background jobs start with SIGINT ignored (POSIX), and Python keeps it so: the run
    # gets the disposition an interactive user's process has.
    proc = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, name, str(doc), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("toolkit: ") and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.txt"]


def test_sigkill_leftovers_are_cleaned_by_the_next_run(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    proc = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, "SIGKILL", str(doc), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.partial-")]
    assert lead(str(doc), "--out", str(tmp_path / "run")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.txt", "run"]


# 6. Encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, option", [("utf-16", None), ("utf-32", None), ("utf-16", "utf-16"),
                                              ("utf-8-sig", None), ("utf-16-le", "utf-16-le")])
def test_utf16_and_utf32_files_are_read(tmp_path: Path, encoding: str, option: str | None) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(SENTENCE.encode(encoding))
    args = ["--encoding", option] if option else []
    result = lead(str(doc), "--out", str(tmp_path / "run"), *args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "doc.txt").read_text(encoding="utf-8") == SENTENCE.split(". ")[0] + "."


def test_utf16_without_bom_is_explained(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(SENTENCE.encode("utf-16-le"))
    one_line_error(lead(str(doc), "--out", str(tmp_path / "run")), "--encoding utf-16-le")


# 7. Degenerate limits ------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["ct2", "torch"])
def test_one_token_limits_work(tiny_marian: Path, tiny_bart: Path, tmp_path: Path, backend: str) -> None:
    result = invoke("translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", backend,
                    "--max-new-tokens", "1", "--out", str(tmp_path / "t"), "-q")
    assert result.exit_code == 0, result.output
    result = invoke("summarize", str(SEED_FILES[0]), "-m", str(tiny_bart), "--lang", "en", "--backend", backend,
                    "--max-length", "1", "--out", str(tmp_path / "s"), "-q")
    assert result.exit_code == 0, result.output
    assert "generation limit" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["translate", "--beams", "0"], "--beams must be at least 1"),
    (["translate", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["translate", "--max-new-tokens", "-3"], "--max-new-tokens must be at least 1"),
    (["translate", "--threads", "-1"], "--threads must be at least 0"),
    (["summarize", "--max-length", "0"], "--max-length must be at least 1"),
    (["summarize", "--min-length", "9", "--max-length", "3"], "--min-length 9 is larger than --max-length 3"),
    (["summarize", "--no-repeat-ngram", "0"], "--no-repeat-ngram must be at least 1"),
    (["pipeline", "--beams", "0"], "--beams must be at least 1"),
    (["translate", "--device", "gpu"], "'gpu' is not one of"),
    (["translate", "--no-such-option"], "no such option"),
    (["benchmark", "x.yaml", "--limit", "0"], "--limit must be at least 1"),
])
def test_bad_option_values_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    command, *rest = args
    inputs = [] if command == "benchmark" else [str(SEED_FILES[0])]
    one_line_error(invoke(command, *inputs, *rest, "--out", str(tmp_path / "o")), fragment)
    assert not (tmp_path / "o").exists()


def test_missing_argument_is_one_line() -> None:
    one_line_error(invoke("translate"), "missing argument")


def test_help_shows_flag_pairs() -> None:
    result = invoke("translate", "--help")
    assert "--overwrite" in result.stdout and "--no-overwrite" in result.stdout


# 9. Language detection on short texts -----------------------------------------------------------

HEADLINES = [
    "Le porte-parole du Kremlin, Dmitri Peskov,",  # py3langid: Esperanto (p≈0.2) when alone
    "Le gouvernement annonce une réforme des retraites.",
    "Les électeurs se rendent aux urnes dimanche.",
    "La ville de Lyon accueille un nouveau festival de musique.",
    "Le président a reçu les syndicats à l'Élysée.",
]


def test_short_texts_follow_the_majority_and_unroutable_records_are_skipped(tiny_marian: Path, tmp_path: Path) -> None:
    records = [{"id": f"h{i}", "text": t} for i, t in enumerate(HEADLINES)]
    records.append({"id": "english", "text": "The weather in London was sunny and warm all through the weekend."})
    corpus = write_jsonl(tmp_path / "news.jsonl", records)
    out = tmp_path / "run"
    result = invoke("translate", str(corpus), "-m", str(tiny_marian), "--src", "auto", "--out", str(out), "-q")
    assert result.exit_code == 3, result.output
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["id"] for f in failures] == ["english"] and "the target language" in failures[0]["reason"]
    rows = [json.loads(line) for line in (out / "part-00000.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"h{i}" for i in range(len(HEADLINES))]
    assert all(r["source_lang"] == "fr" for r in rows)
    details = {d["id"]: d for d in map(json.loads, (out / "details" / "part-00000.jsonl").read_text().splitlines())}
    assert "majority" in details["h0"]["detection"]["fallback"]
    assert "1 record(s) failed" in result.stderr


# 10. Summaries that are empty or not shorter ------------------------------------------------------

def test_extractive_summaries_split_a_giant_line(tmp_path: Path) -> None:
    doc = tmp_path / "giant.txt"
    doc.write_text(" ".join(f"mot{i % 300}" for i in range(30000)))  # one line, no punctuation
    result = invoke("summarize", str(doc), "-m", "textrank-2", "--lang", "fr", "--out", str(tmp_path / "run"), "-q")
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "run" / "giant.txt").read_text()
    assert 0 < len(summary) < len(doc.read_text()) / 10


def test_summaries_not_shorter_than_their_source_are_flagged(tmp_path: Path) -> None:
    doc = tmp_path / "short.txt"
    doc.write_text("Une seule phrase.")
    result = lead(str(doc), "--out", str(tmp_path / "run"))
    assert result.exit_code == 0 and "not shorter than its source" in result.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any("not shorter" in w for w in manifest["documents"][0]["warnings"])


# 11. detect on nothing ----------------------------------------------------------------------------

def test_detect_on_an_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    one_line_error(invoke("detect", str(tmp_path / "empty.txt")), "every input is empty")


# 12. Progress within one long document -------------------------------------------------------------

def test_a_long_document_reports_progress_per_chunk(tiny_bart: Path) -> None:
    from toolkit.io.documents import Document
    from toolkit.options import EngineOptions
    from toolkit.tasks.summarize import load_summarizer

    summarizer = load_summarizer(str(tiny_bart), "en", EngineOptions(backend="torch", batch_size=1))
    doc = Document(id="long", text=SEED_FILES[0].read_text(), source="long.txt")
    total = summarizer.count_units(doc)
    seen: list[int] = []
    summarizer.summarize_documents([doc], seen.append)
    assert total > 2 and len(seen) > 2 and sum(seen) == total


# 13. pipeline keeps the input's format --------------------------------------------------------------

def test_pipeline_keeps_markdown(tiny_marian: Path, tmp_path: Path) -> None:
    doc = tmp_path / "article.md"
    doc.write_text("# Titre\n\n" + SENTENCE + "\n")
    result = invoke("pipeline", str(doc), "--translator", str(tiny_marian), "--summarizer", "lead-1",
                    "--out", str(tmp_path / "run"), "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "translations" / "article.md").is_file()
    assert not (tmp_path / "run" / "translations" / "article.txt").exists()


# evaluate and benchmark use the same run folders ----------------------------------------------------

def test_evaluate_out_is_a_safe_run_folder(tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("the cat sat\n")
    ref = tmp_path / "ref.txt"
    ref.write_text("the cat sat down\n")
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("x")
    args = ["evaluate", "--hyp", str(hyp), "--ref", str(ref), "--task", "translation", "--bootstrap", "10"]
    one_line_error(invoke(*args, "--out", str(keep), "--overwrite"), "replaces only an earlier toolkit run")
    assert tree(keep) == {"notes.txt": b"x"}
    one_line_error(invoke(*args, "--out", str(tmp_path), "--overwrite"), "is or contains the input")
    assert invoke(*args, "--out", str(tmp_path / "scores")).exit_code == 0
    assert invoke(*args, "--out", str(tmp_path / "scores"), "--overwrite").exit_code == 0
    assert {"scores.json", "scores.csv", "scores.md", "manifest.json"} == set(tree(tmp_path / "scores"))


def test_overwrite_never_deletes_what_the_manifest_cannot_vouch_for(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    run = tmp_path / "run"
    assert lead(str(doc), "--out", str(run)).exit_code == 0
    # A file listed by hand in the manifest (no checksum of ours) is still the user's.
    (run / "notes.txt").write_text("my notes")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"].append("notes.txt")
    (run / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(lead(str(doc), "--out", str(run), "--overwrite"), "notes.txt")
    (run / "notes.txt").unlink()
    # A post-edited output is the user's work now.
    (run / "doc.txt").write_text("Post-edited by a journalist.")
    one_line_error(lead(str(doc), "--out", str(run), "--overwrite"), "doc.txt (changed since the run)")
    assert (run / "doc.txt").read_text() == "Post-edited by a journalist."
    import shutil

    shutil.rmtree(run)
    assert lead(str(doc), "--out", str(run)).exit_code == 0
    # A copy of an earlier run kept inside, and an empty folder of the user's, block it too.
    assert lead(str(doc), "--out", str(run / "backup")).exit_code == 0
    one_line_error(lead(str(doc), "--out", str(run), "--overwrite"), "backup/")
    shutil.rmtree(run / "backup")
    (run / "keep").mkdir()
    one_line_error(lead(str(doc), "--out", str(run), "--overwrite"), "keep/")
    (run / "keep").rmdir()
    assert lead(str(doc), "--out", str(run), "--overwrite").exit_code == 0


def test_a_run_with_another_cache_or_home_is_still_locked_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    with RunFolder(tmp_path / "run") as first:
        monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "other-cache"))
        monkeypatch.setenv("HOME", str(tmp_path / "other-home"))
        one_line_error(lead(str(doc), "--out", str(tmp_path / "run")), "another run (pid")
        assert first.partial.is_dir()  # never taken for a stale folder
    assert not (tmp_path / ".run.lock").exists()


def test_a_live_runs_partial_folder_is_never_removed(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    live = tmp_path / ".run.partial-1"
    live.mkdir()
    (live / MARKER).write_text(json.dumps({"state": "partial", "pid": 1}))  # pid 1 is always alive
    assert lead(str(doc), "--out", str(tmp_path / "run")).exit_code == 0
    assert live.is_dir()


@pytest.mark.parametrize("out", ["n" * 300, "loop/x", "/".join(["d" * 200] * 25)])
def test_unusable_paths_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text(SENTENCE)
    monkeypatch.chdir(tmp_path)
    os.symlink("loop", tmp_path / "loop")
    one_line_error(lead(str(doc), "--out", out), "--out")


@pytest.mark.parametrize("record, fragment", [
    ({"id": "\ud800lone", "text": SENTENCE}, "lone surrogate"),
    ({"id": "s", "text": "Le chat \ud800 dort."}, "lone surrogate"),
    ({"id": None, "text": SENTENCE}, "'id' must be a string or an integer"),
    ({"id": {"a": [1]}, "text": SENTENCE}, "'id' must be a string or an integer"),
])
def test_records_that_are_not_text_are_refused(tmp_path: Path, record: dict, fragment: str) -> None:
    corpus = tmp_path / "in.jsonl"
    corpus.write_text(json.dumps(record) + "\n" + json.dumps({"id": "ok", "text": SENTENCE}) + "\n", encoding="utf-8")
    result = lead(str(corpus), "--out", str(tmp_path / "run"))
    assert result.exit_code == 3, result.output
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert fragment in failure["reason"] and failure["input"].endswith("in.jsonl:1")
    assert [json.loads(line)["id"] for line in (tmp_path / "run" / "part-00000.jsonl").read_text().splitlines()] == ["ok"]


def test_ids_cannot_inject_into_the_terminal(tmp_path: Path) -> None:
    evil = "evil\u001b[2J\u001b[31mFAKE\nwarning: all good [red]x[/red]"
    page = tmp_path / evil.replace("/", "_").replace("\n", "_")
    page.mkdir()
    (page / "doc.txt").write_text("Une phrase.")
    result = invoke("summarize", str(page / "doc.txt"), "-m", "lead-1", "--lang", "fr", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    corpus = write_jsonl(tmp_path / "in.jsonl", [{"id": evil, "text": 5}, {"id": "ok", "text": "Une phrase."}])
    result = invoke("summarize", str(corpus), "-m", "lead-1", "--lang", "fr", "--out", "-")
    assert result.exit_code == 3, result.output
    assert "\x1b" not in result.stderr and "\\x1b" in result.stderr
    assert not any(line.startswith("warning: all good") for line in result.stderr.splitlines())


def test_outputs_inside_an_input_folder_are_not_read_back(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text(SENTENCE)
    assert lead(str(inputs), "--out", str(inputs / "out")).exit_code == 0
    result = lead(str(inputs), "--out", str(inputs / "out"), "--overwrite")
    assert result.exit_code == 0, result.output
    manifest = json.loads((inputs / "out" / "manifest.json").read_text())
    assert [d["id"] for d in manifest["documents"]] == ["a"]


def test_a_failed_move_puts_the_earlier_run_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    earlier = tmp_path / "run"
    with RunFolder(earlier) as first:
        first.write_text("x.txt", "old")
        first.commit(head())
    again = RunFolder(earlier, overwrite=True)
    again.write_text("x.txt", "new")
    real_rename = os.rename

    def failing(src, dst):
        if str(src) == str(again.partial):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(ToolkitError, match="nothing there was touched"):
        again.commit(head())
    assert (earlier / "x.txt").read_text() == "old" and not (earlier / MARKER).exists()
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name]


@pytest.mark.parametrize("manifest, fragment", [
    ({"toolkit_version": "x", "task": "summarization"}, "missing or malformed 'documents'"),
    ([1, 2], "missing or malformed top level"),
    ({"toolkit_version": "x", "task": "summarization",
      "documents": [{"id": "a", "output_file": "../../../etc/hostname"}]}, "is not inside the run folder"),
])
def test_evaluate_reads_only_what_a_run_manifest_may_name(tmp_path: Path, manifest, fragment: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps(manifest))
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"id": "a", "reference": "x y"}])
    one_line_error(invoke("evaluate", "--hyp", str(run), "--ref", str(ref)), fragment)


def test_evaluate_seed_is_bounded(tmp_path: Path) -> None:
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"id": "a", "reference": "x y"}])
    hyp = write_jsonl(tmp_path / "hyp.jsonl", [{"id": "a", "translation": "x y"}])
    one_line_error(invoke("evaluate", "--hyp", str(hyp), "--ref", str(ref), "--seed", "-1"), "--seed must be at least 0")


@pytest.mark.parametrize("layout", ["files", "shards"])
def test_a_full_disk_at_start_leaves_no_empty_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        layout: str) -> None:
    """Issue 30.9: the lock file is created (an inode is free) but its pid cannot be written."""
    import builtins
    import errno

    from toolkit.io.sharded_run import ShardedRun

    original = builtins.open

    def full(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if str(file).endswith(".lock") and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", full)
    with pytest.raises(ToolkitError, match="No space left on device"):
        if layout == "files":
            RunFolder(tmp_path / "run")
        else:
            ShardedRun(tmp_path / "run", {})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    RunFolder(tmp_path / "run").close()  # and the folder can be used once there is room
