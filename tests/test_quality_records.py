"""Quality signals in translate's records: the engine's confidence and truncation reach every
sentence's record (pieces, units and pivot hops combined by a stated rule), and
``toolkit.quality.annotate`` sets flags and risk per sentence and summaries per document and run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import seed_texts

from toolkit.io.documents import Document
from toolkit.io.results import DocumentResult, SegmentRecord, weighted_confidence
from toolkit.models.registry import Hop, Route
from toolkit.options import EngineOptions
from toolkit.quality.annotate import annotate
from toolkit.tasks.translate import PivotTranslator, Translator
from toolkit.text.segment import split_to_budget


def scored(model: Path, backend: str, **options) -> Translator:
    return Translator.from_pretrained(str(model), engine=EngineOptions(
        device="cpu", backend=backend, dtype="float32", quantization="float32" if backend == "ct2" else None,
        confidence=True, **options))


def expected_per_sentence(tr: Translator, docs: list[Document]) -> list[float | None]:
    """Each sentence's confidence from the engine's own outputs for the plan's units."""
    planned = tr.plan(docs)
    generated = tr.engine.generate(planned.texts)
    per_sentence: list[list[tuple[float | None, int]]] = [[] for _ in planned.sentences]
    for (owner, _), gen in zip(planned.units, generated):
        per_sentence[owner].append((gen.confidence, gen.output_tokens))
    return [weighted_confidence(parts) for parts in per_sentence]


@pytest.mark.parametrize("backend", ["ct2", "torch"])
def test_records_carry_the_engines_confidence_and_truncation(tiny_marian: Path, backend: str) -> None:
    tr = scored(tiny_marian, backend)
    # A URL in the middle: one sentence of two units, token-weighted.
    docs = [Document(id="seed", text=seed_texts()[0], source="seed"),
            Document(id="url", source="url",
                     text="Le rapport complet est sur https://example.org/rapport et il est long.")]
    results = list(tr.translate_documents(docs))
    records = [r for result in results for r in result.segments]
    expected = expected_per_sentence(tr, docs)
    assert all(c is not None and c <= 0 for c in expected)
    assert [r.confidence for r in records] == pytest.approx(expected, abs=1e-5)
    assert results[1].segments[0].spans == ["https://example.org/rapport"]
    # Random weights never emit the end token: every output stopped at the limit, recorded per sentence.
    assert all(r.truncated is True for r in records if r.output_tokens)
    written = results[0].to_manifest(None)["segments"][0]
    assert written["truncated"] is True and written["confidence"] == records[0].confidence
    assert "spans" not in written and "terms" not in written


def test_without_confidence_records_stay_as_before(tiny_marian: Path) -> None:
    tr = Translator.from_pretrained(str(tiny_marian), backend="ct2", device="cpu")
    [result] = tr.translate_documents([seed_texts()[0]])
    written = result.to_manifest(None)["segments"]
    assert all("confidence" not in s and "flags" not in s and "risk" not in s for s in written)


def test_a_sentence_split_into_pieces_weights_them_by_their_tokens(tiny_marian_short: Path) -> None:
    tr = scored(tiny_marian_short, "ct2")
    sentence = " ".join(["Le gouvernement a présenté un nouveau projet de loi sur le logement social"] * 6) + "."
    records, warnings = tr.sentences.translate_sentences([sentence])
    assert records[0].pieces > 1 and warnings
    pieces = tr.engine.generate(split_to_budget(sentence, tr.engine.count_tokens, tr.engine.input_limit))
    assert records[0].confidence == pytest.approx(
        weighted_confidence([(g.confidence, g.output_tokens) for g in pieces]), abs=1e-5)


def test_weighted_confidence_rule() -> None:
    assert weighted_confidence([(-1.0, 1), (-4.0, 3)]) == pytest.approx(-3.25)
    assert weighted_confidence([(-1.0, 2), (None, 3)]) is None
    assert weighted_confidence([]) is None


def test_a_pivot_takes_its_least_confident_hop(tiny_marian: Path, tiny_en_de: Path) -> None:
    first = scored(tiny_marian, "ct2").sentences
    second = Translator.from_pretrained(str(tiny_en_de), "en", "de", engine=EngineOptions(
        device="cpu", backend="ct2", quantization="float32", confidence=True)).sentences
    hops = [Hop(str(tiny_marian), "fr", "en", "direct"), Hop(str(tiny_en_de), "en", "de", "direct")]
    pivot = PivotTranslator([first, second], Route("fr", "de", "pivot", hops))
    sentences = ["Le président est arrivé.", "La ville compte deux millions d'habitants."]
    records, _ = pivot.translate_sentences(sentences)
    a, _ = first.translate_sentences(sentences)
    b, _ = second.translate_sentences([r.output for r in a])
    for record, x, y in zip(records, a, b):
        assert record.confidence == pytest.approx(min(x.confidence, y.confidence), abs=1e-5)
        assert record.truncated == (True if x.truncated or y.truncated else None)


def test_deduplication_and_the_memory_keep_confidence_and_truncation(tiny_marian: Path, tmp_path: Path) -> None:
    texts = ["Le président est arrivé. Le président est arrivé.", "Le président est arrivé."]
    tm = tmp_path / "news.tm"
    fresh = list(scored(tiny_marian, "ct2", memory=str(tm)).translate_documents(texts))
    served = list(scored(tiny_marian, "ct2", memory=str(tm)).translate_documents(texts))
    assert served[0].segments[0].confidence is not None
    for a, b in zip(fresh, served):
        assert [(r.confidence, r.truncated) for r in a.segments] == [(r.confidence, r.truncated) for r in b.segments]
    assert fresh[0].segments[0].confidence == fresh[0].segments[1].confidence == fresh[1].segments[0].confidence


# -- annotate ------------------------------------------------------------------------------------

def result(doc_id: str, pairs: list[tuple[str, str]], **fields) -> DocumentResult:
    return DocumentResult(doc_id, doc_id, "", 0.0, 0, 0,
                          [SegmentRecord(0, i, s, o, **fields) for i, (s, o) in enumerate(pairs)])


def test_annotate_flags_a_planted_bad_output_and_summarises() -> None:
    good = ("Le gouvernement a présenté mercredi un nouveau projet de loi sur le logement.",
            "The government presented a new housing bill on Wednesday.")
    changed = ("Le taux de chômage est passé à 7,4 % au troisième trimestre.",
               "The unemployment rate rose to 4.7% in the third quarter.")
    copied = (good[0], good[0])
    results = [result("a", [good, changed]), result("b", [copied, good])]
    summary = annotate(results, "fr", "en")
    a, b = results
    assert a.segments[0].flags == [] and a.segments[0].risk == "ok"
    assert [f["name"] for f in a.segments[1].flags] == ["numbers"] and a.segments[1].risk == "review"
    assert "untranslated" in [f["name"] for f in b.segments[0].flags] and b.segments[0].risk == "likely-wrong"
    assert a.extra["quality"]["flags"]["numbers"] == 1 and a.extra["quality"]["worst"] == [1]
    assert b.extra["quality"]["risk"]["likely-wrong"] == 1 and b.extra["quality"]["worst"] == [0]
    assert summary["sentences"] == 4 and summary["flags"]["numbers"] == 1 and summary["flags"]["untranslated"] == 1
    assert summary["worst"][0] == {"doc_id": "b", "position": 0}
    written = a.to_manifest(None)
    assert written["segments"][1]["risk"] == "review" and written["quality"]["sentences"] == 2


def test_annotate_uses_the_recorded_truncation_and_the_plans_spans_and_terms() -> None:
    source = "Le rapport de l'Insee est sur https://example.org/r pour tous."
    records = [SegmentRecord(0, 0, source, "The report is online for all.", truncated=True,
                             spans=["https://example.org/r"], terms={"Insee": "INSEE"})]
    [doc] = results = [DocumentResult("d", "d", "", 0.0, 0, 0, records)]
    annotate(results, "fr", "en")
    reasons = {f["name"]: f["reason"] for f in doc.segments[0].flags}
    assert "truncated" in reasons and doc.segments[0].risk == "likely-wrong"
    assert "https://example.org/r" in reasons["terms"] and "INSEE" in reasons["terms"]


def test_annotate_on_a_real_run_with_a_glossary(tiny_marian: Path) -> None:
    from toolkit.text.glossary import Glossary

    tr = scored(tiny_marian, "ct2").with_glossary(Glossary({"Insee": "INSEE"}, "terms"))
    results = list(tr.translate_documents(["Le rapport Insee donne un taux de 7,4 %. Voir https://example.org/x pour tout."]))
    engine_confidences = [r.confidence for r in results[0].segments]
    summary = annotate(results, "fr", "en")
    records = results[0].segments
    assert [r.confidence for r in records] == engine_confidences  # kept as the engine gave it
    assert all(r.risk in ("ok", "review", "likely-wrong") and r.flags is not None for r in records)
    # tiny random outputs run to the limit: every sentence is flagged truncated, so likely-wrong
    assert all("truncated" in [f["name"] for f in r.flags] for r in records)
    assert summary["risk"]["likely-wrong"] == len(records)
    # the glossary term and the URL are restored by the plan, so they are never missing
    assert all("terms" not in [f["name"] for f in r.flags] for r in records)


# -- the summariser ------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["ct2", "torch"])
def test_a_summary_records_the_engines_confidence(tiny_bart: Path, backend: str) -> None:
    from toolkit.tasks.summarize import document_sentences, load_summarizer

    options = EngineOptions(device="cpu", backend=backend, dtype="float32",
                            quantization="float32" if backend == "ct2" else None, confidence=True)
    summarizer = load_summarizer(str(tiny_bart), "fr", options)
    doc = Document(id="d", text="Le président est arrivé à Moscou. Il a rencontré le maire.", source="d")
    [result] = summarizer.summarize_documents([doc])
    [expected] = summarizer.engine.generate([" ".join(document_sentences(doc, "fr"))])
    assert expected.confidence is not None
    assert result.extra["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
    assert result.to_manifest(None)["confidence"] == result.extra["confidence"]
    # ct2's scores are free: always recorded; torch's recorder only when asked
    [plain] = load_summarizer(str(tiny_bart), "fr", options.replace(confidence=False)).summarize_documents([doc])
    assert ("confidence" in plain.extra) == (backend == "ct2")


def test_summarize_cli_records_confidence_on_ct2(tiny_bart: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app

    source = tmp_path / "a.txt"
    source.write_text("Le président est arrivé à Moscou. Il a rencontré le maire.", encoding="utf-8")
    result = CliRunner().invoke(app, ["summarize", str(source), "-m", str(tiny_bart), "--lang", "fr", "--backend",
                                      "ct2", "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    [doc] = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))["documents"]
    assert isinstance(doc["confidence"], float) and doc["confidence"] <= 0
