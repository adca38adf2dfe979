"""Plain-text files scored against JSONL ones: lines take the JSONL side's documents and segment
numbers, or the evaluation refuses with one line (#28 item 1); the messages of misaligned inputs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sacrebleu
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import InputError
from toolkit.evaluation import evaluate_paths
from toolkit.evaluation.data import align_sources, load_segments

WORDS = ["le", "chat", "dort", "sur", "le", "tapis", "rouge", "et", "le", "chien", "aboie", "dans", "la", "rue", "ce", "matin"]


def corpus(n: int = 30) -> tuple[list[str], list[str]]:
    rnd = random.Random(1)
    refs = [" ".join(rnd.choice(WORDS) for _ in range(12)) for _ in range(n)]
    hyps = [" ".join(w for w in r.split() if rnd.random() < 0.8) for r in refs]
    return hyps, refs


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def bleu(result) -> float:
    return next(s["score"] for s in result["scores"] if s["metric"] == "BLEU")


def records(texts: list[str], field: str, per_doc: int) -> list[dict]:
    return [{"doc_id": f"d{i // per_doc}", "segment": i % per_doc, field: t} for i, t in enumerate(texts)]


def shuffled_within_documents(recs: list[dict], per_doc: int) -> list[dict]:
    rnd = random.Random(7)
    out = []
    for start in range(0, len(recs), per_doc):
        part = recs[start:start + per_doc]
        rnd.shuffle(part)
        out += part
    return out


@pytest.mark.parametrize("per_doc", [30, 10])  # one document; three, each one block of records
@pytest.mark.parametrize("jsonl_side", ["hyp", "ref"])
def test_plain_text_lines_take_the_jsonl_segment_numbers(tmp_path: Path, jsonl_side: str, per_doc: int) -> None:
    hyps, refs = corpus()
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    if jsonl_side == "hyp":
        hyp = write_jsonl(tmp_path / "hyp.jsonl", shuffled_within_documents(records(hyps, "translation", per_doc), per_doc))
        ref = write_lines(tmp_path / "ref.txt", refs)
    else:
        hyp = write_lines(tmp_path / "hyp.txt", hyps)
        ref = write_jsonl(tmp_path / "ref.jsonl", shuffled_within_documents(records(refs, "reference", per_doc), per_doc))
    result = evaluate_paths(hyp, [ref], metrics=["bleu"], bootstrap=10)
    assert bleu(result) == pytest.approx(expected, abs=1e-9)
    # Each segment's hypothesis is the one of its line or record (reported in the references' order).
    by_key = {(s["doc_id"], s["segment"]): s["hypothesis"] for s in result["segments"]}
    assert by_key == {(f"d{i // per_doc}", i % per_doc): h for i, h in enumerate(hyps)}


@pytest.mark.parametrize("jsonl_side", ["hyp", "ref"])
def test_interleaved_documents_against_plain_text_are_refused(tmp_path: Path, jsonl_side: str) -> None:
    hyps, refs = corpus()
    field, texts = ("translation", hyps) if jsonl_side == "hyp" else ("reference", refs)
    recs = records(texts, field, 10)
    random.Random(3).shuffle(recs)
    jsonl = write_jsonl(tmp_path / f"{jsonl_side}.jsonl", recs)
    plain = write_lines(tmp_path / "plain.txt", refs if jsonl_side == "hyp" else hyps)
    hyp, ref = (jsonl, plain) if jsonl_side == "hyp" else (plain, jsonl)
    with pytest.raises(InputError, match=r"are not together, so the lines of .*plain.txt \(plain text\) cannot be "
                                         r"matched to its segments; give .*plain.txt as JSONL with doc_id and segment"):
        evaluate_paths(hyp, [ref], metrics=["bleu"], bootstrap=10)
    cli = CliRunner().invoke(app, ["evaluate", "--hyp", hyp, "--ref", ref, "--metrics", "bleu"])
    assert cli.exit_code == 2 and "Traceback" not in cli.output
    assert len([line for line in cli.output.splitlines() if line.strip()]) == 1


def test_a_second_plain_reference_takes_the_first_references_ids(tmp_path: Path) -> None:
    hyps, refs = corpus()
    refs2 = [r[::-1] for r in refs]
    ref1 = write_jsonl(tmp_path / "ref.jsonl", shuffled_within_documents(records(refs, "reference", 30), 30))
    ref2 = write_lines(tmp_path / "ref2.txt", refs2)
    hyp = write_lines(tmp_path / "hyp.txt", hyps)
    result = evaluate_paths(hyp, [ref1, ref2], metrics=["bleu"], bootstrap=10)
    assert bleu(result) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs, refs2]).score, abs=1e-9)


def test_plain_text_sources_follow_segment_numbers(tmp_path: Path) -> None:
    keys = [("d", 2), ("d", 0), ("d", 1)]  # a reference file's order
    src = load_segments(write_lines(tmp_path / "src.txt", ["zéro", "un", "deux"]), "src")
    assert align_sources(keys, src) == ["deux", "zéro", "un"]


def test_a_record_moved_to_an_unknown_id_names_the_short_document(tmp_path: Path) -> None:
    hyps, refs = corpus(6)
    moved = records(hyps, "translation", 3)
    moved[4]["doc_id"] = "zz"
    hyp = write_jsonl(tmp_path / "hyp.jsonl", moved)
    ref = write_jsonl(tmp_path / "ref.jsonl", records(refs, "reference", 3))
    with pytest.raises(InputError, match=r"not in .*ref.jsonl: zz; segment counts differ .*: d1 \(2 vs 3\)"):
        evaluate_paths(hyp, [ref], metrics=["bleu"], bootstrap=10)


def test_invalid_json_message_is_not_cut(tmp_path: Path) -> None:
    bad = tmp_path / "hyp.jsonl"
    bad.write_text('{"doc_id": "a", "segment": 0, "translation": "hello wor\n', encoding="utf-8")
    ref = write_lines(tmp_path / "ref.txt", ["hello world"])
    with pytest.raises(InputError, match=r"invalid JSON \(Unterminated string starting at column 46\)"):
        evaluate_paths(str(bad), [ref], metrics=["bleu"], bootstrap=10)
