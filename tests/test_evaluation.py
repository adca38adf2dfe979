"""Metrics equal their reference implementations, French ROUGE is right, and the statistics behave."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from conftest import REPO, SEEDS, evaluate_error
from rouge_score import rouge_scorer
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.evaluation import ROUGE, evaluate
from toolkit.evaluation.metrics import ref_streams
from toolkit.evaluation.rouge import VARIANTS
from toolkit.text.segment import segment_document

REFS = REPO / "evaluation" / "references"
runner = CliRunner()

HYPS = ["The cat sat on the mat.", "A dog barked at the postman this morning.", "It is raining again in Paris."]
REF1 = ["The cat is sitting on the mat.", "The dog barked at the mailman this morning.", "It rains in Paris again."]
REF2 = ["A cat sat on a mat.", "This morning a dog barked at the postman.", "Paris has rain once more."]


def scores(result: dict) -> dict[str, float]:
    return {s["metric"]: s["score"] for s in result["scores"]}


def test_bleu_chrf_ter_equal_sacrebleu_with_two_references() -> None:
    refs = [[a, b] for a, b in zip(REF1, REF2)]
    got = scores(evaluate(HYPS, refs, task="translation", bootstrap=50))
    assert got["BLEU"] == sacrebleu.corpus_bleu(HYPS, [REF1, REF2]).score
    assert got["chrF++"] == sacrebleu.corpus_chrf(HYPS, [REF1, REF2], word_order=2).score
    assert got["TER"] == sacrebleu.corpus_ter(HYPS, [REF1, REF2]).score


def test_reference_shape_is_per_stream() -> None:
    assert ref_streams([["a1", "a2"], ["b1"]]) == [["a1", "b1"], ["a2", None]]


def test_rouge_equals_rouge_score_on_ascii_english() -> None:
    for stem in (False, True):
        default = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stem)
        ours = ROUGE(lang="en", stem=stem)
        for hyp, ref in zip(HYPS, REF1):
            expected = default.score(ref, hyp)
            got = ours.segment_scores(hyp, [ref])
            for variant in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
                assert got[variant] == pytest.approx(expected[variant].fmeasure * 100, abs=1e-12)


SUMMARY_HYP = ("The government announced new measures on Tuesday. Prices rose sharply.\n"
               "Officials said the running costs were falling. Markets reacted calmly")
SUMMARY_REFS = ["On Tuesday the government announced measures.\nPrices were rising sharply. Costs fell, officials said.",
                "Markets reacted calmly to the announcements.\nThe government runs new programmes."]


def test_rouge_defaults_equal_rouge_score_with_stemming_and_newline_sentences() -> None:
    """English defaults: Porter stemming (use_stemmer=True), ROUGE-Lsum over the text's own lines, as
    given: a line holding two sentences stays one sentence, as in rouge-score."""
    expected = rouge_scorer.RougeScorer(list(VARIANTS), use_stemmer=True)
    ours = ROUGE(lang="en")
    single = ours.segment_scores(SUMMARY_HYP, SUMMARY_REFS[:1])
    multi = ours.segment_scores(SUMMARY_HYP, SUMMARY_REFS)
    for variant in VARIANTS:
        assert single[variant] == pytest.approx(expected.score(SUMMARY_REFS[0], SUMMARY_HYP)[variant].fmeasure * 100, abs=1e-12)
        best = expected.score_multi(SUMMARY_REFS, SUMMARY_HYP)[variant].fmeasure * 100
        assert multi[variant] == pytest.approx(best, abs=1e-12)
    signature = ours.signature("rougeLsum")
    assert "stem:porter(auto)" in signature and "split:newline" in signature
    assert "split:" not in ours.signature("rouge1")


def test_rouge_lsum_sentences_mode_splits_lines_first() -> None:
    split = ROUGE(["rougeLsum"], lang="en", lsum_split="sentences")
    segmented = SUMMARY_HYP.replace("Tuesday. ", "Tuesday.\n").replace("falling. ", "falling.\n")
    reference = SUMMARY_REFS[0].replace("sharply. ", "sharply.\n")
    expected = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True).score(reference, segmented)["rougeLsum"]
    got = split.segment_scores(SUMMARY_HYP, SUMMARY_REFS[:1])["rougeLsum"]
    assert got == pytest.approx(expected.fmeasure * 100, abs=1e-12)
    assert got != pytest.approx(ROUGE(["rougeLsum"], lang="en").segment_scores(SUMMARY_HYP, SUMMARY_REFS[:1])["rougeLsum"])
    assert "split:toolkit-en" in split.signature("rougeLsum")


@pytest.mark.parametrize("lang, stem, name", [("en", "auto", "porter"), ("en", "no", "none"), ("fr", "auto", "none"),
                                              ("fr", "yes", "snowball-fr"), ("de", "auto", "none")])
def test_stem_modes(lang: str, stem: str, name: str) -> None:
    assert f"stem:{name}({stem})" in ROUGE(lang=lang, stem=stem).signature("rouge1")


def test_cli_stem_option_is_in_the_signature(tmp_path: Path) -> None:
    hyp, ref = tmp_path / "hyp.jsonl", tmp_path / "ref.jsonl"
    hyp.write_text(json.dumps({"doc_id": "a", "summary": "The runners were running."}) + "\n")
    ref.write_text(json.dumps({"doc_id": "a", "references": ["A runner runs."]}) + "\n")
    got = {}
    for stem in ("auto", "no"):
        result = invoke("--hyp", str(hyp), "--ref", str(ref), "--stem", stem, "--json", "--bootstrap", "5")
        assert result.exit_code == 0, result.output
        got[stem] = json.loads(result.stdout)["scores"][0]
    assert "stem:porter(auto)" in got["auto"]["signature"] and "stem:none(no)" in got["no"]["signature"]
    assert got["auto"]["score"] > got["no"]["score"]
    assert invoke("--hyp", str(hyp), "--ref", str(ref), "--stem", "maybe").exit_code == 2


def test_french_identical_accented_strings_score_one() -> None:
    text = "Le président a été réélu à une écrasante majorité. Élection anticipée à Noursoultan."
    for stem in (False, True):
        got = ROUGE(lang="fr", stem=stem).segment_scores(text, [text])
        assert all(v == pytest.approx(100.0) for v in got.values())


def test_french_strings_differing_only_in_accented_words_do_not() -> None:
    # rouge-score's default tokenizer reduces "été"/"élu" and "àté"/"ôlu" to the same tokens.
    hyp, ref = "il a été élu", "il a àté ôlu"
    default = rouge_scorer.RougeScorer(["rouge1"]).score(ref, hyp)["rouge1"].fmeasure
    assert default == 1.0  # the bug we fix
    assert ROUGE(lang="fr").segment_scores(hyp, [ref])["rouge1"] == pytest.approx(50.0)


def test_hand_computed_french_example() -> None:
    # hyp tokens: le chat noir dort (4); ref tokens: le chat dort sur le canapé (6)
    # ROUGE-1: overlap le, chat, dort = 3 → P 3/4, R 3/6 → F = 0.6
    # ROUGE-2: hyp bigrams {le chat, chat noir, noir dort}, ref has "le chat" → P 1/3, R 1/5 → F = 0.25
    # ROUGE-L: LCS "le chat dort" = 3 → same as ROUGE-1 = 0.6
    got = ROUGE(lang="fr").segment_scores("Le chat noir dort.", ["Le chat dort sur le canapé."])
    assert got["rouge1"] == pytest.approx(60.0)
    assert got["rouge2"] == pytest.approx(25.0)
    assert got["rougeL"] == pytest.approx(60.0)


def test_french_stemming_uses_snowball() -> None:
    got = ROUGE(["rouge1"], lang="fr", stem=True).segment_scores("les présidents élus", ["le président élu"])
    assert got["rouge1"] > ROUGE(["rouge1"], lang="fr").segment_scores("les présidents élus", ["le président élu"])["rouge1"]
    assert "stem:snowball-fr" in ROUGE(lang="fr", stem=True).signature("rouge1")


def sentences(n: int) -> tuple[list[str], list[list[str]], list[str]]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
    refs, good, bad = [], [], []
    for i in range(n):
        ref = " ".join(words[(i + j) % len(words)] for j in range(8))
        refs.append([ref])
        good.append(ref if i % 4 else " ".join(ref.split()[:6]))
        bad.append(" ".join(reversed(ref.split()[:5])) + " omega")
    return good, refs, bad


def test_system_compared_with_itself() -> None:
    good, refs, _ = sentences(30)
    result = evaluate(good, refs, task="translation", baseline=good, bootstrap=300)
    for comparison in result["baseline"]["comparison"]:
        assert comparison["delta"] == 0
        assert comparison["p_bootstrap"] == pytest.approx(1.0)
        assert comparison["p_randomization"] == pytest.approx(1.0)


@pytest.mark.parametrize("task, metrics", [("translation", None), ("summarization", ["rouge"])])
def test_clearly_better_system_is_significant(task: str, metrics) -> None:
    good, refs, bad = sentences(36)
    result = evaluate(good, refs, task=task, metrics=metrics, baseline=bad, bootstrap=500)
    for comparison in result["baseline"]["comparison"]:
        assert comparison["p_bootstrap"] < 0.05 and comparison["p_randomization"] < 0.05
        assert comparison["system_better"]
        assert comparison["ci_low"] <= comparison["delta"] <= comparison["ci_high"]


def test_confidence_intervals_contain_estimate_and_are_seeded() -> None:
    good, refs, _ = sentences(30)
    a = evaluate(good, refs, task="translation", metrics=["bleu", "chrf", "ter", "rouge"], bootstrap=200, seed=7)
    b = evaluate(good, refs, task="translation", metrics=["bleu", "chrf", "ter", "rouge"], bootstrap=200, seed=7)
    c = evaluate(good, refs, task="translation", metrics=["bleu", "chrf", "ter", "rouge"], bootstrap=200, seed=8)
    assert a["scores"] == b["scores"]
    assert [s["ci_low"] for s in a["scores"]] != [s["ci_low"] for s in c["scores"]]
    for score in a["scores"]:
        assert score["ci_low"] <= score["score"] <= score["ci_high"]


def test_segment_level_chrf() -> None:
    result = evaluate(HYPS, [[r] for r in REF1], task="translation", bootstrap=10)
    assert [round(s["chrf"], 6) for s in result["segments"]] == [
        round(sacrebleu.sentence_chrf(h, [r], word_order=2).score, 6) for h, r in zip(HYPS, REF1)]


def test_references_are_aligned_with_the_toolkit_segmentation() -> None:
    rows = [json.loads(line) for line in (REFS / "translations.fr-en.jsonl").read_text().splitlines()]
    for doc_id in {r["doc_id"] for r in rows}:
        expected = segment_document((SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8"), "fr").sentences
        mine = [(r["paragraph"], r["sentence"], r["source"]) for r in rows if r["doc_id"] == doc_id]
        assert mine == expected
        assert [r["segment"] for r in rows if r["doc_id"] == doc_id] == list(range(len(expected)))
    for lang in ("en", "fr"):
        summaries = [json.loads(line) for line in (REFS / f"summaries.{lang}.jsonl").read_text().splitlines()]
        assert {s["doc_id"] for s in summaries} == {p.stem for p in SEEDS.glob("*.txt")}
        assert all(40 <= len(s["references"][0].split()) <= 75 for s in summaries)


def invoke(*args: str):
    return runner.invoke(app, ["evaluate", *args])


def test_cli_on_committed_references(tmp_path: Path) -> None:
    ref = str(REFS / "translations.fr-en.jsonl")
    result = invoke("--hyp", ref, "--ref", ref, "--out", str(tmp_path / "s"), "--bootstrap", "100")
    assert result.exit_code == 0, result.output
    assert "BLEU" in result.stderr and "nrefs:1" in result.stderr
    data = json.loads((tmp_path / "s" / "scores.json").read_text())
    assert scores(data)["BLEU"] == pytest.approx(100.0)
    assert (tmp_path / "s" / "scores.csv").read_text().startswith("metric,score,ci_low,ci_high,signature")
    assert "| BLEU | 100.00 |" in (tmp_path / "s" / "scores.md").read_text()
    summary = str(REFS / "summaries.fr.jsonl")
    result = invoke("--hyp", summary, "--ref", summary, "--lang", "fr", "--json", "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "summarization" and scores(data)["ROUGE-1"] == pytest.approx(100.0)


def test_cli_on_a_translate_run_with_baseline(tiny_marian: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert runner.invoke(app, ["translate", str(SEEDS), "-m", str(tiny_marian), "--out", str(run), "-q"]).exit_code == 0
    ref = str(REFS / "translations.fr-en.jsonl")
    result = invoke("--hyp", str(run), "--ref", ref, "--baseline", ref, "--json", "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["segments_count"] == 25 and data["lang"] == "en"
    bleu = next(c for c in data["baseline"]["comparison"] if c["metric"] == "BLEU")
    assert bleu["delta"] < 0 and bleu["p_randomization"] < 0.05 and not bleu["system_better"]


def test_plain_text_files_and_repeated_refs(tmp_path: Path) -> None:
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n")
    (tmp_path / "r1.txt").write_text("\n".join(REF1) + "\n")
    (tmp_path / "r2.txt").write_text("\n".join(REF2) + "\n")
    result = invoke("--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "r1.txt"), "--ref", str(tmp_path / "r2.txt"),
                    "--json", "--bootstrap", "20", "--metrics", "bleu")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scores"][0]["score"] == sacrebleu.corpus_bleu(HYPS, [REF1, REF2]).score


def test_cli_errors(tmp_path: Path) -> None:
    ref = str(REFS / "translations.fr-en.jsonl")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n\n")
    (tmp_path / "two.txt").write_text("a\nb\n")
    (tmp_path / "r3.txt").write_text("a\nb\nc\n")
    (tmp_path / "latin.txt").write_bytes("été".encode("latin-1"))
    rows = [json.loads(line) for line in Path(ref).read_text().splitlines()]
    (tmp_path / "partial.jsonl").write_text("\n".join(json.dumps({**r, "doc_id": "other"} if r["doc_id"].startswith("001") else r)
                                                      for r in rows))
    (tmp_path / "short.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:-1]))
    assert "empty hypothesis" in evaluate_error("--hyp", str(tmp_path / "empty.txt"), "--ref", str(tmp_path / "r3.txt"))
    assert "empty hypothesis" in evaluate_error("--hyp", str(tmp_path / "blank.txt"), "--ref", str(tmp_path / "two.txt"))
    assert "has 2 segments but" in evaluate_error("--hyp", str(tmp_path / "two.txt"), "--ref", str(tmp_path / "r3.txt"))
    line = evaluate_error("--hyp", str(tmp_path / "partial.jsonl"), "--ref", ref)
    assert "missing from" in line and "001_9dc1b2430c6dff80" in line and "not in" in line and "other" in line
    assert "has 12 segments but" in evaluate_error("--hyp", str(tmp_path / "short.jsonl"), "--ref", ref)
    line = evaluate_error("--hyp", str(tmp_path / "latin.txt"), "--ref", str(tmp_path / "two.txt"))
    assert "not valid utf-8" in line and "evaluate reads UTF-8" in line and "--encoding" not in line
    (tmp_path / "utf16.txt").write_bytes("a\nb\n".encode("utf-16-le"))  # no byte-order mark: looks binary
    line = evaluate_error("--hyp", str(tmp_path / "utf16.txt"), "--ref", str(tmp_path / "two.txt"))
    assert "binary" in line and "evaluate reads UTF-8" in line and "--encoding" not in line
    assert "metric 'BLEU' is given twice" in evaluate_error("--hyp", ref, "--ref", ref, "--metrics", "bleu,chrf,BLEU")
    assert "no metric given" in evaluate_error("--hyp", ref, "--ref", ref, "--metrics", " , ")
    shifted = [{**r, "segment": 70} if i == 2 else r for i, r in enumerate(rows)]
    (tmp_path / "shifted.jsonl").write_text("\n".join(json.dumps(r) for r in shifted))
    line = evaluate_error("--hyp", str(tmp_path / "shifted.jsonl"), "--ref", ref)
    assert "segment ids do not match: missing from" in line and "#70" in line and "not in" in line
    assert "unknown metric 'meteor'" in evaluate_error("--hyp", ref, "--ref", ref, "--metrics", "bleu,meteor")
    assert "unknown language code" in evaluate_error("--hyp", ref, "--ref", ref, "--lang", "klingon")
    assert "no such file" in evaluate_error("--hyp", str(tmp_path / "nope.jsonl"), "--ref", ref)
    assert "not a toolkit run" in evaluate_error("--hyp", str(tmp_path), "--ref", ref)


def test_english_reference_articles_are_the_reference_translation() -> None:
    rows = [json.loads(line) for line in (REFS / "translations.fr-en.jsonl").read_text().splitlines()]
    articles = {json.loads(line)["id"]: json.loads(line)["text"]
                for line in (REPO / "evaluation/sources/seeds.en.jsonl").read_text().splitlines()}
    for doc_id, text in articles.items():
        paragraphs: dict[int, list[str]] = {}
        for row in rows:
            if row["doc_id"] == doc_id:
                paragraphs.setdefault(row["paragraph"], []).append(row["reference"])
        assert text == "\n".join(" ".join(p) for _, p in sorted(paragraphs.items()))


@pytest.mark.parametrize("record, line, field", [
    ({"doc_id": "a", "segment": "zero", "translation": "The cat."}, 2, "'segment'"),
    ({"doc_id": "a", "segment": 1.5, "translation": "The cat."}, 2, "'segment'"),
    ({"doc_id": "a", "segment": True, "translation": "The cat."}, 2, "'segment'"),
    ({"doc_id": "a", "segment": -1, "translation": "The cat."}, 2, "'segment'"),
    ({"doc_id": "a", "segment": 1, "translation": 42}, 2, "'translation'"),
    ({"doc_id": "a", "segment": 1, "translation": None}, 2, "'translation'"),
    ({"doc_id": "a", "segment": 1, "translation": ["The cat."]}, 2, "'translation'"),
    ({"doc_id": ["a"], "segment": 1, "translation": "The cat."}, 2, "'doc_id'"),
    ({"doc_id": "a", "segment": 0, "translation": "The dog."}, 2, "'segment'"),  # same doc_id + segment as line 1
])
def test_bad_jsonl_hypothesis_fields_are_one_line_errors(tmp_path: Path, record: dict, line: int, field: str) -> None:
    hyp, ref = tmp_path / "hyp.jsonl", tmp_path / "ref.jsonl"
    hyp.write_text(json.dumps({"doc_id": "a", "segment": 0, "translation": "A cat."}) + "\n" + json.dumps(record) + "\n")
    ref.write_text("\n".join(json.dumps({"doc_id": "a", "segment": i, "reference": "The cat."}) for i in (0, 1)) + "\n")
    message = evaluate_error("--hyp", str(hyp), "--ref", str(ref))
    assert f"{hyp}:{line}:" in message and field in message


@pytest.mark.parametrize("record, field", [
    ({"doc_id": "a", "segment": 1, "reference": 3}, "'reference'"),
    ({"doc_id": "a", "segment": 1, "references": ["ok", {"text": "no"}]}, "'references[1]'"),
    ({"doc_id": "a", "segment": 1, "references": []}, "'references'"),
    ({"doc_id": "a", "segment": 1, "references": None}, "'references'"),
    ({"doc_id": "a", "segment": "one", "reference": "The cat."}, "'segment'"),
    ({"doc_id": "a", "segment": 0, "reference": "The cat again."}, "'segment'"),
])
def test_bad_jsonl_reference_fields_are_one_line_errors(tmp_path: Path, record: dict, field: str) -> None:
    hyp, ref = tmp_path / "hyp.jsonl", tmp_path / "ref.jsonl"
    hyp.write_text("\n".join(json.dumps({"doc_id": "a", "segment": i, "translation": "The cat."}) for i in (0, 1)) + "\n")
    ref.write_text(json.dumps({"doc_id": "a", "segment": 0, "reference": "The cat."}) + "\n\n" + json.dumps(record) + "\n")
    message = evaluate_error("--hyp", str(hyp), "--ref", str(ref))
    assert f"{ref}:3:" in message and field in message


def test_duplicate_error_names_both_lines(tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.jsonl"
    rows = [{"doc_id": "d", "segment": i % 2, "translation": f"text {i}"} for i in range(3)]
    hyp.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    message = evaluate_error("--hyp", str(hyp), "--ref", str(hyp))
    assert f"{hyp}:3:" in message and "line 1" in message and "duplicate" in message


def test_digit_string_segments_are_accepted(tmp_path: Path) -> None:
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("\n".join(json.dumps({"doc_id": 7, "segment": str(i), "translation": t}) for i, t in enumerate(HYPS)))
    result = invoke("--hyp", str(hyp), "--ref", str(hyp), "--json", "--bootstrap", "10", "--metrics", "bleu")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segments_count"] == 3


def close_systems(n: int = 300, seed: int = 3) -> tuple[list[str], list[str], list[str]]:
    """Seeded synthetic references and two systems that differ by little (p-values well inside (0, 1))."""
    rnd = random.Random(seed)
    words = [f"w{i}" for i in range(60)]
    refs, system, base = [], [], []
    for _ in range(n):
        ref = [rnd.choice(words) for _ in range(rnd.randint(5, 15))]
        refs.append(" ".join(ref))
        system.append(" ".join(w if rnd.random() < 0.75 else rnd.choice(words) for w in ref))
        base.append(" ".join(w if rnd.random() < 0.745 else rnd.choice(words) for w in ref))
    return system, base, refs


def test_p_values_agree_with_sacrebleu_paired_bs_and_ar(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed, same random stream, same statistics as sacrebleu: p-values agree to within 2/(R+1)
    (in practice exactly; sacrebleu's float32 statistics could flip a near-tie). sacrebleu counts
    only null values strictly above the observed one; we also count ties, which only TER's
    approximate randomization (a difference of integer edits over a fixed length) produces here,
    so there we check against sacrebleu's own null distribution counted with >=."""
    from sacrebleu import significance
    from sacrebleu.metrics import BLEU, CHRF, TER

    resamples, tolerance = 1000, 2 / 1001
    system, base, refs = close_systems()
    ours = {c["metric"]: c for c in evaluate(system, [[r] for r in refs], baseline=base, bootstrap=resamples,
                                             seed=12345)["baseline"]["comparison"]}
    recorded: list[tuple[np.ndarray, float]] = []
    original = significance._compute_p_value
    monkeypatch.setattr(significance, "_compute_p_value", lambda s, d: recorded.append((s, d)) or original(s, d))
    metrics = {"BLEU": BLEU(), "chrF++": CHRF(word_order=2), "TER": TER()}
    info = {}
    for name, metric in metrics.items():
        stats = metric._extract_corpus_statistics(base, [refs])
        info[name] = (np.array(stats), metric._aggregate_and_compute(stats))
    _, boot = significance._paired_bs_test(info, "system", system, [refs], metrics, n_samples=resamples, seed=12345)
    recorded.clear()
    _, ar = significance._paired_ar_test(info, "system", system, [refs], metrics, n_samples=resamples, seed=12345)
    for (name, theirs_bs), (null, observed) in zip(boot.items(), recorded):
        mine = ours[name]
        assert 0.01 < mine["p_bootstrap"] < 0.5 and 0.01 < mine["p_randomization"] < 0.5
        assert abs(mine["p_bootstrap"] - theirs_bs.p_value) <= tolerance
        with_ties = (np.count_nonzero(null >= observed - 1e-9) + 1) / (resamples + 1)
        assert ar[name].p_value <= with_ties
        assert abs(mine["p_randomization"] - with_ties) <= tolerance
        if name != "TER":
            assert abs(mine["p_randomization"] - ar[name].p_value) <= tolerance


def test_resampling_in_chunks_equals_one_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.evaluation import significance

    system, base, refs = close_systems(90)
    whole = evaluate(system, [[r] for r in refs], baseline=base, bootstrap=200, seed=5)
    monkeypatch.setattr(significance, "CHUNK_ELEMENTS", 1)  # 32 resamples per chunk
    chunked = evaluate(system, [[r] for r in refs], baseline=base, bootstrap=200, seed=5)
    assert chunked["scores"] == whole["scores"] and chunked["baseline"] == whole["baseline"]


def test_paired_test_memory_does_not_grow_with_resamples() -> None:
    """100k segments × 10 BLEU-sized statistics: the working set is a few (chunk × n) matrices,
    far below the (resamples × n × k) array of resampling by fancy indexing (8 GB here)."""
    from toolkit.evaluation.significance import paired_test

    rng = np.random.default_rng(0)
    system = rng.integers(0, 20, size=(100_000, 10)).astype(np.float64)
    baseline = rng.integers(0, 20, size=(100_000, 10)).astype(np.float64)
    tracemalloc.start()
    try:
        paired_test(system, baseline, lambda s: float(s[0] / s[1]), 1000, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 80e6, f"peak {peak / 1e6:.0f} MB"  # about 26 MB measured


def test_worker_processes_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.evaluation import base as metric_base

    system, base, refs = close_systems(60)
    serial = evaluate(system, [[r] for r in refs], baseline=base, bootstrap=50, jobs=1)
    monkeypatch.setattr(metric_base, "EXTRACT_SLICE", 7)
    parallel = evaluate(system, [[r] for r in refs], baseline=base, bootstrap=50, jobs=2)
    assert parallel == serial
    rouge = [evaluate(system, [[r] for r in refs], task="summarization", bootstrap=20, jobs=j)["scores"] for j in (1, 2)]
    assert rouge[0] == rouge[1]


def test_an_error_drops_the_slices_not_yet_started() -> None:
    """Every metric's slices are queued at once; an error (or Ctrl-C) must not wait for all of them."""
    import time

    from toolkit.evaluation.base import workers_context

    futures = []
    with pytest.raises(KeyboardInterrupt), workers_context(2) as pool:
        futures = [pool.submit(time.sleep, 0.2) for _ in range(40)]
        raise KeyboardInterrupt
    # At most the two workers' slices and the one or two in the call queue had started.
    assert sum(future.cancelled() for future in futures) >= 30


def test_sliced_extraction_keeps_the_corpus_nrefs(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.evaluation import base

    monkeypatch.setattr(base, "EXTRACT_SLICE", 2)
    refs = [[REF1[0], REF2[0]], [REF1[1], REF2[1]], [REF1[2]]]  # the last slice has one reference
    got = evaluate(HYPS, refs, metrics=["bleu", "chrf"], bootstrap=10, jobs=1)["scores"]
    assert all("nrefs:var" in s["signature"] for s in got)
    assert got[0]["score"] == sacrebleu.corpus_bleu(HYPS, [REF1, REF2[:2] + [None]]).score


def test_metrics_resampled_together_equal_each_alone() -> None:
    from toolkit.evaluation.metrics import SacreMetric
    from toolkit.evaluation.significance import bootstrap_ci, paired_test, resample

    system, base, refs = close_systems(80)
    metrics = [SacreMetric(name, "en") for name in ("bleu", "chrf", "ter")]
    sys_stats = [m.compute(system, [[r] for r in refs]).stats for m in metrics]
    base_stats = [m.compute(base, [[r] for r in refs]).stats for m in metrics]
    together = resample(sys_stats, [m.from_sums for m in metrics], 300, 9, base_stats)
    for i, metric in enumerate(metrics):
        assert together.system_ci[i] == bootstrap_ci(sys_stats[i], metric.from_sums, 300, 9)
        assert together.paired[i] == paired_test(sys_stats[i], base_stats[i], metric.from_sums, 300, 9)
