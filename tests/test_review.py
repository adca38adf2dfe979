"""`toolkit review`: checks on any system's translations, review.jsonl and review.html."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import headless_page
from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app

REFERENCES = Path(__file__).resolve().parent.parent / "evaluation" / "references" / "translations.fr-en.jsonl"
runner = CliRunner()


def review(*args: str):
    return runner.invoke(app, ["review", *args])


def one_error(*args: str) -> str:
    result = review(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), result.stderr
    return lines[0]


@pytest.fixture
def system(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    """Sources as text (one per line) and a 'system' JSONL: the references with three mistakes."""
    records = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    src = tmp_path / "src.txt"
    src.write_text("\n".join(r["source"] for r in records) + "\n", encoding="utf-8")
    outputs = [r["reference"] for r in records]
    changed = next(i for i, r in enumerate(records) if "81,31" in r["source"])
    outputs[changed] = outputs[changed].replace("81.31", "18.31")
    outputs[2] = records[2]["source"]  # left untranslated
    outputs[3] = "the the the the the the"
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("".join(json.dumps({"doc_id": r["doc_id"], "segment": r["segment"], "translation": o},
                                      ensure_ascii=False) + "\n" for r, o in zip(records, outputs)), encoding="utf-8")
    return src, hyp, [{"index": changed, "flag": "numbers"}, {"index": 2, "flag": "untranslated"},
                      {"index": 3, "flag": "repetition"}]


def test_review_flags_another_systems_mistakes(system, tmp_path: Path) -> None:
    src, hyp, mistakes = system
    # --src is plain text (by position) and --hyp JSONL: aligned as evaluate aligns them.
    result = review("--src", str(src), "--hyp", str(hyp), "--src-lang", "fr", "--tgt-lang", "en",
                    "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sentences"] == 25 and summary["risk"]["likely-wrong"] >= 2
    records = [json.loads(line) for line in (tmp_path / "out" / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 25
    for mistake in mistakes:
        assert mistake["flag"] in [f["name"] for f in records[mistake["index"]]["flags"]]
    flagged = {i for i, r in enumerate(records) if r["flags"]}
    assert flagged == {m["index"] for m in mistakes}  # the good human translations are not flagged
    assert records[2]["risk"] == "likely-wrong" and records[mistakes[0]["index"]]["risk"] == "review"
    assert summary["worst"][0]["position"] in (2, 3)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "review" and sorted(manifest["files"]) == ["review.html", "review.jsonl"]
    assert manifest["quality"]["confidence_review"] == -1.5


def test_review_prints_a_summary_on_stderr_and_keeps_stdout_empty(system, tmp_path: Path) -> None:
    src, hyp, _ = system
    result = review("--src", str(src), "--hyp", str(hyp), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0 and result.stdout == ""
    assert "Reviewed 25 sentences (fr → en)" in result.stderr and "Worst sentences" in result.stderr


def test_review_takes_glossary_and_keep_terms(system, tmp_path: Path) -> None:
    src, hyp, _ = system
    result = review("--src", str(src), "--hyp", str(hyp), "--keep", "Tokaïev", "--out", str(tmp_path / "out"), "--json")
    records = [json.loads(line) for line in (tmp_path / "out" / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    assert result.exit_code == 0
    assert any("Tokaïev" in f["reason"] for r in records for f in r["flags"] if f["name"] == "terms")


def test_bad_inputs_are_one_line(system, tmp_path: Path) -> None:
    src, hyp, _ = system
    assert "no such file" in one_error("--hyp", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "a"))
    assert "nothing to review" in one_error("--out", str(tmp_path / "b"))
    assert "not both" in one_error(str(hyp), "--hyp", str(hyp), "--out", str(tmp_path / "c"))
    short = tmp_path / "short.txt"
    short.write_text("Une phrase.\n", encoding="utf-8")
    assert "segments" in one_error("--src", str(short), "--hyp", str(hyp), "--out", str(tmp_path / "d"))
    plain = tmp_path / "plain.txt"
    plain.write_text("A sentence.\n", encoding="utf-8")
    assert "--src" in one_error("--hyp", str(plain), "--out", str(tmp_path / "e"))
    assert "--tgt-lang" in one_error("--src", str(src), "--hyp", str(hyp), "--tgt-lang", "xx", "--out", str(tmp_path / "f"))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("x", encoding="utf-8")
    assert "not empty" in one_error("--src", str(src), "--hyp", str(hyp), "--out", str(taken))
    assert (taken / "mine.txt").read_text(encoding="utf-8") == "x" and sorted(p.name for p in taken.iterdir()) == ["mine.txt"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # nothing half-written left


def test_the_target_language_is_never_taken_from_the_translations(system, tmp_path: Path) -> None:
    # #26 tester: French in, French out passed as "fr → fr" (the target was identified from the outputs).
    src, _, _ = system
    copy = tmp_path / "copy.txt"
    copy.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    result = review("--src", str(src), "--hyp", str(copy), "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target_lang"] == "en" and summary["target_lang_from"] == "default"
    assert "assuming en, the configured default" in result.stderr
    assert summary["flags"]["untranslated"] >= 20 and summary["risk"]["ok"] <= 5
    given = review("--src", str(src), "--hyp", str(copy), "--tgt-lang", "en", "--out", str(tmp_path / "o2"), "--json")
    assert json.loads(given.stdout)["target_lang_from"] == "given" and "assuming" not in given.stderr


def test_the_library_requires_a_target_language_it_cannot_read(system, tmp_path: Path) -> None:
    from toolkit.errors import ToolkitError
    from toolkit.quality.review import review_paths

    src, hyp, _ = system
    with pytest.raises(ToolkitError, match="--tgt-lang"):
        review_paths(str(hyp), str(src))
    assert review_paths(str(hyp), str(src), default_target_lang="en").target_lang == "en"


def test_review_exits_quietly_when_its_reader_leaves(system, tmp_path: Path) -> None:
    # #26 tester: `toolkit review … 2>&1 | head -1` exited 1 with a traceback (rich's broken-pipe exit).
    import os
    import subprocess
    import sys

    src, hyp, _ = system
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "review", "--src", str(src), "--hyp", str(hyp),
                             "--tgt-lang", "en", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    assert proc.wait(timeout=120) == 141, first  # the shell's status for a writer whose reader left
    assert first.startswith(b"Reviewed 25 sentences")
    assert (tmp_path / "out" / "review.html").is_file()  # the work was done and kept


def test_overwrite_replaces_an_earlier_review(system, tmp_path: Path) -> None:
    src, hyp, _ = system
    out = tmp_path / "out"
    assert review("--src", str(src), "--hyp", str(hyp), "--out", str(out)).exit_code == 0
    assert "not empty" in one_error("--src", str(src), "--hyp", str(hyp), "--out", str(out))
    assert review("--src", str(src), "--hyp", str(hyp), "--out", str(out), "--overwrite").exit_code == 0


def test_review_of_a_translate_run_folder(tiny_marian: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    # --no-checks: a run without recorded signals, which review assesses from the texts alone
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "torch",
                                 "--out", str(run), "-q", "--no-checks"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    segments = manifest["documents"][0]["segments"]
    assert not any(key in s for s in segments for key in ("confidence", "flags", "risk"))  # today's records unchanged
    result = review(str(run), "--src-lang", "fr", "--out", str(tmp_path / "review"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sentences"] == len(segments) and summary["target_lang"] == "en"
    records = [json.loads(line) for line in (tmp_path / "review" / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["source"] for r in records] == [s["source"] for s in segments]
    assert [r["output"] for r in records] == [s["output"] for s in segments]
    # A random model's outputs are nonsense: whatever it wrote, most of it must not pass as ok.
    assert summary["risk"]["ok"] < len(segments)


def test_review_reads_recorded_confidence(tiny_marian: Path, tmp_path: Path) -> None:
    """Records that carry confidence (as the translate task will write them): low confidence
    raises the risk. The run is a real one, its manifest given the field by hand."""
    run = tmp_path / "run"
    assert runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "torch",
                               "--out", str(run), "-q", "--no-checks"]).exit_code == 0
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    segments = manifest["documents"][0]["segments"]
    references = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    for segment, reference, confidence in zip(segments, references, [-0.2, -2.0, -5.0]):
        segment["output"], segment["confidence"] = reference["reference"], confidence
        segment.pop("truncated", None)  # the random model's output, replaced, was cut at the limit
    manifest["documents"][0]["segments"] = segments[:3]
    (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    out = review(str(run), "--src-lang", "fr", "--out", str(tmp_path / "review"), "--json")
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in (tmp_path / "review" / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["confidence"] for r in lines] == [-0.2, -2.0, -5.0]
    assert [r["risk"] for r in lines] == ["ok", "review", "likely-wrong"]


def test_review_uses_a_runs_recorded_signals_text_and_corpus(tiny_marian: Path, tmp_path: Path) -> None:
    """A run made with the checks (default): review takes its confidence, truncation and flags,
    from the manifest (text run) and from the details files (corpus run)."""
    text_run, corpus_run = tmp_path / "text", tmp_path / "corpus"
    assert runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                               "--src", "fr", "--out", str(text_run), "-q"]).exit_code == 0
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": SEED_FILES[0].read_text(encoding="utf-8")}) + "\n",
                      encoding="utf-8")
    assert runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--backend", "ct2", "--src", "fr",
                               "--out", str(corpus_run), "-q"]).exit_code == 0
    manifest = json.loads((text_run / "manifest.json").read_text(encoding="utf-8"))
    segments = manifest["documents"][0]["segments"]
    # A flag only the run could know (a glossary term of its plan): planted in its records.
    planted = {"name": "terms", "reason": "planted"}
    manifest["documents"][0]["segments"][0]["flags"].insert(0, planted)
    (text_run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    details_file = corpus_run / "details" / "part-00000.jsonl"
    [detail] = [json.loads(line) for line in details_file.read_text(encoding="utf-8").splitlines()]
    detail["segments"][0]["flags"].insert(0, planted)
    details_file.write_text(json.dumps(detail, ensure_ascii=False) + "\n", encoding="utf-8")
    for run, name in ((text_run, "r1"), (corpus_run, "r2")):
        out = review(str(run), "--src-lang", "fr", "--out", str(tmp_path / name), "--json")
        assert out.exit_code == 0, out.output
        lines = [json.loads(line) for line in (tmp_path / name / "review.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(lines) == len(segments)
        assert [r["confidence"] for r in lines] == [round(s["confidence"], 4) for s in segments]
        assert all("truncated" in [f["name"] for f in r["flags"]] for r in lines)  # recorded, not guessed
        assert planted in lines[0]["flags"] and all(planted not in r["flags"] for r in lines[1:])


# -- the page, in a real headless browser ---------------------------------------------------------

@pytest.mark.slow
def test_review_page_in_a_browser(system, tmp_path: Path) -> None:
    src, hyp, mistakes = system
    lines = hyp.read_text(encoding="utf-8").splitlines()
    hostile = json.loads(lines[0])
    hostile["translation"] = "</script><img src=x onerror=alert(1)> 999"  # a number the source lacks
    lines[0] = json.dumps(hostile)
    hyp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert review("--src", str(src), "--hyp", str(hyp), "--out", str(out)).exit_code == 0
    records = [json.loads(line) for line in (out / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    with_numbers = sum(any(f["name"] == "numbers" for f in r["flags"]) for r in records)
    likely_wrong = sum(r["risk"] == "likely-wrong" for r in records)
    assert with_numbers >= 2 and likely_wrong >= 2
    with headless_page() as page:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((out / "review.html").as_uri())
        rows = page.locator("#rows tr")
        assert rows.count() == len(mistakes) + 1  # flagged sentences only, by default
        risks = [rows.nth(i).get_attribute("data-risk") for i in range(rows.count())]
        assert risks == sorted(risks, key=["likely-wrong", "review", "ok"].index)  # worst first
        assert page.locator("#rows tr td.output", has_text="</script><img").count() == 1  # shown as text
        page.select_option("#flag", "numbers")
        assert rows.count() == with_numbers and all("numbers" in rows.nth(i).locator("td.flags").text_content()
                                                    for i in range(with_numbers))
        page.select_option("#flag", "")
        page.select_option("#risk", "all")
        assert rows.count() == 25
        page.select_option("#risk", "likely-wrong")
        assert rows.count() == likely_wrong
        link = rows.nth(0).locator("td.where a")
        href = link.get_attribute("href")
        link.click()
        assert page.evaluate("location.hash") == href and page.locator(href).count() == 1
        assert "#" in link.text_content()  # document and position
        assert dialogs == [] and all(u.startswith("file://") for u in requests)  # no script ran, nothing fetched


def test_review_of_a_post_edited_run_folder_says_it_reads_the_recorded_outputs(tiny_marian: Path,
                                                                                 tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                                 "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output
    untouched = review(str(run), "--src-lang", "fr", "--out", str(tmp_path / "r1"))
    assert untouched.exit_code == 0 and "changed since its run" not in untouched.stderr
    output = next(run.glob("*.txt"))
    output.write_text("A sentence a translator corrected.\n" + output.read_text(encoding="utf-8"), encoding="utf-8")
    edited = review(str(run), "--src-lang", "fr", "--out", str(tmp_path / "r2"))
    assert edited.exit_code == 0, edited.output
    assert f"1 output file(s) of {run} changed since its run (first: {output.name})" in edited.stderr
