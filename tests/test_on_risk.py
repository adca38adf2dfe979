"""``--on-risk keep|retry|pivot|source``: what translate does with likely-wrong sentences.

Tiny random models emit nonsense that the checks call likely wrong, so every mode has work."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


def translate(tiny_marian: Path, out: Path, *extra: str, source: Path = SEED_FILES[0]) -> dict:
    result = runner.invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--backend", "ct2", "--src", "fr",
                                 "--out", str(out), "-q", *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def documents(manifest: dict) -> list[dict]:
    return [{k: v for k, v in doc.items() if k != "seconds"} for doc in manifest["documents"]]


def test_keep_is_the_default_and_changes_nothing(tiny_marian: Path, tmp_path: Path) -> None:
    default, keep = translate(tiny_marian, tmp_path / "a"), translate(tiny_marian, tmp_path / "b", "--on-risk", "keep")
    assert documents(default) == documents(keep)
    assert (tmp_path / "a" / f"{SEED_FILES[0].stem}.txt").read_bytes() == \
        (tmp_path / "b" / f"{SEED_FILES[0].stem}.txt").read_bytes()
    assert all("on_risk" not in s for d in keep["documents"] for s in d["segments"])


def test_retry_decodes_likely_wrong_sentences_again_deterministically(tiny_marian: Path, tmp_path: Path) -> None:
    keep = translate(tiny_marian, tmp_path / "keep")
    first = translate(tiny_marian, tmp_path / "r1", "--on-risk", "retry")
    second = translate(tiny_marian, tmp_path / "r2", "--on-risk", "retry")
    assert documents(first) == documents(second)  # deterministic
    before = keep["documents"][0]["segments"]
    after = first["documents"][0]["segments"]
    assert all(s["risk"] == "likely-wrong" for s in before)
    for old, new in zip(before, after):
        acted = new["on_risk"]
        assert acted["action"] == "retry" and acted["risk_before"] == "likely-wrong"
        assert acted["flags_before"] == [f["name"] for f in old["flags"]]
        if acted["replaced"]:
            assert acted["output_before"] == old["output"] and new["output"] != old["output"]
        else:
            assert new["output"] == old["output"]
        assert new["risk"] in ("ok", "review", "likely-wrong") and new["source"] == old["source"]
    # no_repeat_ngram_size=3 breaks the random model's loops: outputs change
    assert sum(s["on_risk"]["replaced"] for s in after) > 0
    summary = first["quality"]["on_risk"]
    assert summary == {"mode": "retry", "sentences": len(after),
                       "replaced": sum(s["on_risk"]["replaced"] for s in after)}
    assert first["documents"][0]["quality"]["on_risk"]["sentences"] == len(after)


def test_source_keeps_the_source_and_marks_it(tiny_marian: Path, tmp_path: Path) -> None:
    found = translate(tiny_marian, tmp_path / "s", "--on-risk", "source")
    segments = found["documents"][0]["segments"]
    assert all(s["output"] == s["source"] and s["on_risk"]["action"] == "source" for s in segments)
    # re-assessed after: a kept source is untranslated, and says so
    assert all("untranslated" in [f["name"] for f in s["flags"]] for s in segments if len(s["source"].split()) >= 4)


def test_pivot_routes_them_through_the_registrys_pivot(tiny_marian: Path, tiny_en_de: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"models:\n  - {{id: {tiny_marian}, kind: direct, pairs: [fr-de, fr-en]}}\n"
                        f"  - {{id: {tiny_en_de}, kind: direct, pairs: [en-de]}}\n")
    out = tmp_path / "p"
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "--src", "fr", "--tgt", "de", "--registry",
                                 str(registry), "--backend", "ct2", "--out", str(out), "-q", "--on-risk", "pivot"])
    assert result.exit_code == 0, result.output
    segments = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["documents"][0]["segments"]
    assert all(s["on_risk"]["action"] == "pivot" for s in segments)
    assert any(s["on_risk"]["replaced"] and s["via"] for s in segments)  # the pivot's English is recorded
    no_route = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--src", "fr",
                                   "--out", str(tmp_path / "n"), "--on-risk", "pivot"])
    assert no_route.exit_code == 2 and "--on-risk pivot" in no_route.output


def test_on_risk_needs_the_checks(tiny_marian: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--out", str(tmp_path / "x"),
                                 "--no-checks", "--on-risk", "retry"])
    assert result.exit_code == 2 and "--no-checks" in result.output and not (tmp_path / "x").exists()


def test_alternatives_with_an_acting_on_risk_are_refused(tiny_marian: Path) -> None:
    import pytest

    from toolkit import Translator
    from toolkit.errors import ToolkitError
    from toolkit.io.documents import Document
    from toolkit.options import QualityOptions

    translator = Translator.from_pretrained(str(tiny_marian), backend="ct2", device="cpu",
                                            quality=QualityOptions(on_risk="source"))
    doc = Document(id="a", text="Le chat dort.", source="<text>")
    with pytest.raises(ToolkitError, match="alternatives cannot be combined"):
        translator.translate_batch([doc], alternatives=2)
    assert translator.translate_batch([doc])[0].output  # on_risk alone still works


def test_retry_with_a_memory_loads_the_deferred_model(tiny_marian: Path, tmp_path: Path) -> None:
    # The second run's units all come from the memory (the model's load is deferred), yet its
    # likely-wrong sentences are decoded again: the retry loads the model, and both runs agree.
    memory = tmp_path / "news.tm"
    first = translate(tiny_marian, tmp_path / "r1", "--on-risk", "retry", "--tm", str(memory))
    second = translate(tiny_marian, tmp_path / "r2", "--on-risk", "retry", "--tm", str(memory))
    assert second["units"]["decoded"] == 0 and second["units"]["from_memory"] > 0
    assert documents(first) == documents(second)
    assert any(s["on_risk"]["replaced"] for s in second["documents"][0]["segments"])


def test_a_short_kept_source_is_never_counted_ok(tiny_marian: Path, tmp_path: Path) -> None:
    # Copies of one short sentence: the re-assessment alone would learn "Oui" as a name the run
    # keeps and pass every copy as ok; a source the toolkit kept is untranslated, and to review.
    source = tmp_path / "oui.txt"
    source.write_text("Oui. " * 30 + "\n", encoding="utf-8")
    found = translate(tiny_marian, tmp_path / "s", "--on-risk", "source", source=source)
    segments = found["documents"][0]["segments"]
    replaced = [s for s in segments if s["on_risk"]["replaced"]]
    assert replaced and all(s["risk"] != "ok" and "untranslated" in [f["name"] for f in s["flags"]]
                            for s in replaced)
    assert found["quality"]["risk"]["ok"] <= len(segments) - len(replaced)
    assert found["documents"][0]["quality"]["risk"]["ok"] == found["quality"]["risk"]["ok"]


def test_the_summary_line_says_what_was_replaced_and_where_to_review(tiny_marian: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "-m", str(tiny_marian), "--backend", "ct2",
                                 "--src", "fr", "--out", str(out), "--on-risk", "source"])
    assert result.exit_code == 0, result.output
    assert "--on-risk source replaced" in result.output and f"see toolkit review {out}" in result.output
    streamed = runner.invoke(app, ["translate", "-", "-m", str(tiny_marian), "--backend", "ct2", "--src", "fr",
                                   "--out", "-", "--on-risk", "source"], input="Le chômage atteint 7,4 %.\n")
    assert streamed.exit_code == 0, streamed.output
    assert "Checked 1 sentence(s)" in streamed.output  # stdout runs have no manifest: the line says it
