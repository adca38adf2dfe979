"""Reference-free ``numbers`` and ``terms`` accuracy in evaluate (#26): metrics of the usual
interface, with CIs, paired tests, JSON and the Markdown report, counting as the review checks do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ToolkitError
from toolkit.evaluation import EvaluationOptions, evaluate
from toolkit.evaluation.base import Metric, compute
from toolkit.evaluation.registry import MetricContext, build_metrics
from toolkit.evaluation.report import to_markdown
from toolkit.quality import Pair, assess

REFERENCES = Path(__file__).resolve().parent.parent / "evaluation" / "references" / "translations.fr-en.jsonl"
SOURCES = ["Le taux est de 7,4 % en 2024.", "Il a payé 1 234,5 euros le 3 mars 2024.",
           "Voir https://example.org/a pour Tokaïev.", "Rien à signaler."]
GOOD = ["The rate is 7.4% in 2024.", "He paid 1,234.5 euros on March 3, 2024.",
        "See https://example.org/a for Tokayev.", "Nothing to report."]
BAD = ["The rate is 4.7% in 2024.", "He paid euros on March 3, 2024.", "See the website for Tokaev.",
       "Nothing to report."]
GLOSSARY = {"Tokaïev": "Tokayev"}
runner = CliRunner()


def metric(name: str, **context):
    [built] = build_metrics([name], MetricContext(lang="en", sources=SOURCES, source_lang="fr", **context))
    return built


def test_numbers_and_terms_are_metrics_of_the_one_interface() -> None:
    for name, display in (("numbers", "Numbers"), ("terms", "Terms")):
        m = metric(name, glossary=GLOSSARY)
        assert isinstance(m, Metric) and m.name == name and m.display == display and not m.pooled
        stats = m.statistics(GOOD, [[]] * len(GOOD))
        assert stats.shape == (len(GOOD), 2)
        assert compute(m, GOOD, [[r] for r in GOOD]).score == 100.0
        parts = np.concatenate([m.statistics(BAD, [[]] * 4)])
        assert m.from_sums(parts.sum(axis=0)) < 100.0
        assert m.from_sums(np.zeros(2)) == 100.0  # nothing to carry over: nothing missed
        assert "nrefs:0" in m.signature(1)
    numbers = metric("numbers").statistics(BAD, [[]] * 4)
    # 7,4 · 2024 | 1 234,5 · 3 · mars · 2024 | none | none: 7,4 and 1 234,5 lost
    assert numbers.tolist() == [[1, 2], [3, 4], [0, 0], [0, 0]]
    terms = metric("terms", glossary=GLOSSARY).statistics(BAD, [[]] * 4)
    assert terms.tolist() == [[0, 0], [0, 0], [0, 2], [0, 0]]  # the URL and the glossary term
    assert "glossary:none" in metric("terms").signature(1) and "terms:1" in metric("terms", glossary=GLOSSARY).signature(1)


def test_they_count_what_the_review_checks_flag() -> None:
    records = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    sources = [r["source"] for r in records]
    outputs = [r["reference"] for r in records]
    outputs[0] = outputs[0].replace("2", "3")
    outputs[5] = records[5]["source"]  # left untranslated: its French numbers are still its numbers
    [m] = build_metrics(["numbers"], MetricContext(lang="en", sources=sources, source_lang="fr"))
    stats = m.statistics(outputs, [[o] for o in outputs])
    flagged = [any(f.name == "numbers" and ("missing" in f.reason or "changed" in f.reason) for f in a.flags)
               for a in assess([Pair(s, o) for s, o in zip(sources, outputs)], "fr", "en")]
    assert [found < expected for found, expected in stats.tolist()] == flagged
    assert stats[5, 0] == stats[5, 1]


def test_evaluate_gives_cis_paired_tests_and_json() -> None:
    options = EvaluationOptions(bootstrap=200, src_lang="fr", glossary=GLOSSARY)
    result = evaluate(BAD, [[g] for g in GOOD], ["bleu", "numbers", "terms"], options, baseline=GOOD, sources=SOURCES)
    numbers, terms = result.score("Numbers"), result.score("Terms")
    assert numbers.score == pytest.approx(100 * 4 / 6) and numbers.ci_low <= numbers.score <= numbers.ci_high
    assert terms.score == 0.0 and numbers.higher_is_better
    assert result.baseline is not None
    compared = {c.metric: c for c in result.baseline.comparison}
    assert compared["Numbers"].baseline == 100.0 and compared["Numbers"].delta < 0 and not compared["Numbers"].system_better
    out = result.to_dict()
    assert [s["metric"] for s in out["scores"]] == ["BLEU", "Numbers", "Terms"]
    report = to_markdown(out)
    assert "| Numbers |" in report and "reference-free" in report and "Terms: `nrefs:0|terms:1" in report


def test_without_sources_it_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="numbers needs the source texts"):
        evaluate(GOOD, [[g] for g in GOOD], ["numbers"])
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("\n".join(BAD) + "\n", encoding="utf-8")
    ref.write_text("\n".join(GOOD) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--hyp", str(hyp), "--ref", str(ref), "--metrics", "bleu,terms"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["toolkit: error: terms needs the source texts: give --src FILE "
                                                  "(text or JSONL with 'source'), or score a translate run folder, "
                                                  "whose manifest holds them"]


def test_the_cli_takes_sources_languages_and_terms(tmp_path: Path) -> None:
    hyp, ref, src, base = (tmp_path / f"{n}.txt" for n in ("hyp", "ref", "src", "base"))
    for path, lines in ((hyp, BAD), (ref, GOOD), (src, SOURCES), (base, GOOD)):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--hyp", str(hyp), "--ref", str(ref), "--src", str(src), "--src-lang", "fr",
                                 "--metrics", "numbers,terms", "--keep", "https://example.org/a", "--baseline", str(base),
                                 "--bootstrap", "100", "--json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {s["metric"]: round(s["score"], 2) for s in out["scores"]} == {"Numbers": 66.67, "Terms": 0.0}
    assert "terms:1" in out["scores"][1]["signature"] and "src:fr|tgt:en" in out["scores"][0]["signature"]
    assert [c["metric"] for c in out["baseline"]["comparison"]] == ["Numbers", "Terms"]
    assert "reference-free" in (tmp_path / "out" / "scores.md").read_text(encoding="utf-8")
    # The sources' language is identified from them when not given.
    again = runner.invoke(app, ["evaluate", "--hyp", str(hyp), "--ref", str(ref), "--src", str(src),
                                "--metrics", "numbers", "--bootstrap", "50", "--json"])
    assert json.loads(again.stdout)["scores"][0]["score"] == out["scores"][0]["score"]


def test_numbers_and_terms_need_no_references(tmp_path: Path) -> None:
    hyp, src, base = (tmp_path / f"{n}.txt" for n in ("hyp", "src", "base"))
    for path, lines in ((hyp, BAD), (src, SOURCES), (base, GOOD)):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--hyp", str(hyp), "--src", str(src), "--src-lang", "fr",
                                 "--metrics", "numbers,terms", "--baseline", str(base), "--bootstrap", "100", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [round(s["score"], 2) for s in out["scores"]] == [66.67, 0.0] and out["ref"] == []  # the URL is lost
    assert "segments" not in out  # segment-level chrF needs references
    assert out["baseline"]["comparison"][0]["baseline"] == 100.0
    # A JSONL of translations holding its sources needs neither --ref nor --src.
    jsonl = tmp_path / "hyp.jsonl"
    jsonl.write_text("".join(json.dumps({"doc_id": "d", "segment": i, "source": s, "translation": h}) + "\n"
                             for i, (s, h) in enumerate(zip(SOURCES, BAD))), encoding="utf-8")
    alone = runner.invoke(app, ["evaluate", "--hyp", str(jsonl), "--src-lang", "fr", "--metrics", "numbers",
                                "--bootstrap", "50", "--json"])
    assert alone.exit_code == 0, alone.output
    assert round(json.loads(alone.stdout)["scores"][0]["score"], 2) == 66.67
    for metrics in ("bleu,numbers", None):
        args = ["evaluate", "--hyp", str(hyp), "--src", str(src)] + (["--metrics", metrics] if metrics else [])
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2 and "--ref is required" in refused.stderr


def test_a_translate_run_folder_scores_and_reviews_with_its_own_languages(tiny_marian: Path, tmp_path: Path) -> None:
    from conftest import SEED_FILES

    run = tmp_path / "run"
    made = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "torch",
                               "--out", str(run), "-q"])
    assert made.exit_code == 0, made.output
    # The run folder holds its sources: neither --ref nor --src is needed.
    result = runner.invoke(app, ["evaluate", "--hyp", str(run), "--metrics", "numbers,terms", "--src-lang", "fr",
                                 "--bootstrap", "50", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    segments = manifest["documents"][0]["segments"]
    assert out["segments_count"] == len(segments) and out["lang"] == "en"
    [m] = build_metrics(["numbers"], MetricContext(lang="en", sources=[s["source"] for s in segments], source_lang="fr"))
    assert out["scores"][0]["score"] == compute(m, [s["output"] for s in segments], [[]] * len(segments)).score
    reviewed = runner.invoke(app, ["review", str(run), "--out", str(tmp_path / "review"), "--json"])
    assert reviewed.exit_code == 0, reviewed.output
    assert json.loads(reviewed.stdout)["target_lang_from"] == "run" and "assuming" not in reviewed.stderr
