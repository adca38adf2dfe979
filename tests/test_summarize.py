"""`toolkit summarize` and `toolkit pipeline` with tiny random-weight BART/T5 and the extractive baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, SEED_FILES, SEEDS
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.io.documents import Document
from toolkit.options import EngineOptions, GenerationOptions
from toolkit.tasks.summarize import (
    LeadSummarizer,
    Seq2SeqSummarizer,
    TextRankSummarizer,
    load_summarizer,
    textrank_scores,
)

runner = CliRunner()


def doc(text: str, doc_id: str = "d") -> Document:
    return Document(id=doc_id, text=text, source=doc_id)


def test_lead_n_takes_the_first_sentences_across_paragraphs() -> None:
    text = "Titre. Premier paragraphe.\n\nM. Dupont parle. Encore une phrase.\nFin."
    result = LeadSummarizer(3, "fr").summarize_document(doc(text))
    assert result.output == "Titre. Premier paragraphe. M. Dupont parle."
    assert result.extra["selected_sentences"] == [0, 1, 2]
    assert LeadSummarizer(10, "fr").summarize_document(doc("Une. Deux.")).output == "Une. Deux."


def test_textrank_picks_the_central_sentence() -> None:
    sentences = [
        "Tigers hunt at night.",
        "The election results were announced by the commission in the capital today.",
        "The commission announced the results.",
        "The capital waited for the election.",
        "Results of the election surprised the capital.",
        "Bananas are yellow.",
    ]
    scores = textrank_scores(sentences, "en")
    assert int(scores.argmax()) == 1
    assert scores[0] < scores[2] and scores[5] < scores[2]
    result = TextRankSummarizer(1, "en").summarize_document(doc(" ".join(sentences)))
    assert result.output == sentences[1]


def test_textrank_keeps_document_order_and_is_deterministic() -> None:
    text = SEED_FILES[0].read_text(encoding="utf-8")
    first = TextRankSummarizer(3, "fr").summarize_document(doc(text))
    second = TextRankSummarizer(3, "fr").summarize_document(doc(text))
    assert first.output == second.output
    chosen = first.extra["selected_sentences"]
    assert chosen == sorted(chosen) and len(chosen) == 3


def test_extractive_names_are_parsed() -> None:
    assert isinstance(load_summarizer("lead-2", "fr"), LeadSummarizer)
    assert load_summarizer("textrank", "fr").n == 3
    assert load_summarizer("TextRank-5", "fr").n == 5


def test_long_document_goes_through_map_reduce(tiny_bart: Path) -> None:
    summarizer = load_summarizer(str(tiny_bart), "fr", EngineOptions(device="cpu"))
    assert isinstance(summarizer, Seq2SeqSummarizer) and summarizer.engine.input_limit == 64
    text = SEED_FILES[1].read_text(encoding="utf-8")
    assert summarizer.engine.count_tokens(text) > 4 * 64
    result = summarizer.summarize_document(doc(text))
    levels = result.extra["map_reduce_levels"]
    assert result.extra["chunked"] and levels[0]["chunks"] > 4
    assert all(tokens <= 64 for level in levels for tokens in level["chunk_tokens"])
    assert result.output


def test_generation_defaults_come_from_the_model_and_overrides_are_recorded(tiny_bart: Path) -> None:
    summarizer = load_summarizer(str(tiny_bart), "en", EngineOptions(device="cpu"), GenerationOptions(num_beams=3, min_length=2))
    settings = summarizer.describe()["generation"]
    assert settings["length_penalty"] == 2.0 and settings["no_repeat_ngram_size"] == 3 and settings["max_length"] == 20
    assert settings["num_beams"] == 3 and settings["min_length"] == 2
    assert sorted(summarizer.describe()["overridden"]) == ["min_length", "num_beams"]


def test_t5_prefix_comes_from_config(tiny_t5: Path) -> None:
    summarizer = load_summarizer(str(tiny_t5), "en", EngineOptions(device="cpu"))
    assert summarizer.describe()["prefix"] == "summarize: "
    tokenizer = summarizer.engine.tokenizer
    assert summarizer.engine.count_tokens("Bonjour.") == len(tokenizer("summarize: Bonjour.")["input_ids"])


def summarize(*args: str, input: str | None = None):
    return runner.invoke(app, ["summarize", *args], input=input)


@pytest.mark.parametrize("model", ["bart", "t5"])
def test_cli_summarize_seeds(model: str, tiny_bart: Path, tiny_t5: Path, tmp_path: Path) -> None:
    path = tiny_bart if model == "bart" else tiny_t5
    out = tmp_path / "s"
    result = summarize(str(SEEDS), "-m", str(path), "--lang", "fr", "--beams", "1", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "summarization" and manifest["generation"]["num_beams"] == 1
    assert manifest["overridden"] == ["num_beams"]
    for entry in manifest["documents"]:
        assert entry["chunked"] and entry["map_reduce_levels"]
        assert (out / entry["output_file"]).read_text()


def test_cli_summarize_extractive_and_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "lead"
    result = summarize(str(SEEDS), "-m", "lead-3", "--lang", "fr", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    first = (out / f"{SEED_FILES[0].stem}.txt").read_text()
    assert first.startswith("Moscou - Le président russe")
    scored = runner.invoke(app, ["evaluate", "--hyp", str(out), "--ref", str(REPO / "evaluation/references/summaries.fr.jsonl"),
                                 "--lang", "fr", "--json", "--bootstrap", "50"])
    assert scored.exit_code == 0, scored.output
    data = json.loads(scored.stdout)
    assert data["task"] == "summarization" and 0 < data["scores"][0]["score"] < 100


def test_cli_summarize_to_stdout_and_jsonl(tmp_path: Path) -> None:
    result = summarize("-", "-m", "textrank-1", "--lang", "fr", "--out", "-", input="Une phrase. Une autre phrase.\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() in ("Une phrase.", "Une autre phrase.")
    result = summarize(str(SEED_FILES[0]), "-m", "lead-1", "--format", "jsonl", "--out", str(tmp_path / "j"), "-q")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "j" / f"{SEED_FILES[0].stem}.jsonl").read_text())
    assert record["doc_id"] == SEED_FILES[0].stem and record["summary"].startswith("Moscou")


@pytest.mark.parametrize("args, fragment", [
    (["-m", "lead-0"], "at least 1"),
    (["--min-length", "50", "--max-length", "10", "-m", "lead-3"], "larger than --max-length"),
    (["-m", "org/not-cached-summariser"], "not in the local Hugging Face cache"),
    (["--lang", "xx", "-m", "lead-3"], "unknown language code"),
])
def test_cli_summarize_errors(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = summarize(str(SEED_FILES[0]), *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_pipeline_translate_first(tiny_marian: Path, tiny_bart: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--translator", str(tiny_marian), "--summarizer", str(tiny_bart),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["stages"]) == {"translations", "summaries"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["stages"]] == ["translate", "summarize"]
    assert manifest["stages"][1]["lang"] == "en" and manifest["outputs"] == {"translation": 0, "summarization": 1}
    for path in SEED_FILES:
        assert (out / "translations" / f"{path.stem}.txt").read_text().count("\n") == path.read_text().count("\n")
        assert (out / "summaries" / f"{path.stem}.txt").read_text()
    for task, ref in (("translation", "translations.fr-en.jsonl"), ("summarization", "summaries.en.jsonl")):
        scored = runner.invoke(app, ["evaluate", "--hyp", str(out), "--task", task, "--ref",
                                     str(REPO / "evaluation/references" / ref), "--json", "--bootstrap", "20"])
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.stdout)["task"] == task


def test_pipeline_summarize_first(tiny_marian: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--translator", str(tiny_marian), "--summarizer", "textrank-2",
                                 "--order", "summarize-first", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["stages"]] == ["summarize", "translate"]
    assert manifest["stages"][0]["lang"] == "fr" and manifest["outputs"] == {"summarization": 1}
    french = (out / "source-summaries" / f"{SEED_FILES[0].stem}.txt").read_text()
    from toolkit.io.documents import Document
    from toolkit.tasks.summarize import extractive_units

    units = extractive_units(Document("d", SEED_FILES[0].read_text(), str(SEED_FILES[0])), "fr")
    selected = manifest["stages"][0]["documents"][0]["selected_sentences"]
    assert len(selected) == 2 and french == " ".join(units[i] for i in selected)
    assert (out / "summaries" / f"{SEED_FILES[0].stem}.txt").read_text()
    scored = runner.invoke(app, ["evaluate", "--hyp", str(out), "--task", "translation", "--ref",
                                 str(REPO / "evaluation/references/translations.fr-en.jsonl")])
    assert scored.exit_code == 2 and "has no translation output" in scored.stderr


def test_pipeline_summarize_first_on_html_writes_plain_text(tiny_marian: Path, tmp_path: Path) -> None:
    """The summary of an HTML page is plain text, and so is its translation: a .txt file, as
    `toolkit summarize` names it, and its "<" and "&" are text, not markup."""
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>Titre &amp; sujet</h1><p>Il est arrivé à Paris. Le prix est de 5 &lt; 10 "
                    "euros. Puis il est parti.</p></body></html>\n", encoding="utf-8")
    out = tmp_path / "p"
    result = runner.invoke(app, ["pipeline", str(page), "--translator", str(tiny_marian), "--summarizer", "lead-3",
                                 "--order", "summarize-first", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("page.*")) == [
        "source-summaries/page.txt", "summaries/page.txt"]
    french = (out / "source-summaries" / "page.txt").read_text(encoding="utf-8")
    assert "5 < 10" in french
    manifest = json.loads((out / "manifest.json").read_text())
    translated = manifest["stages"][1]["documents"][0]
    assert translated["output_file"] == "summaries/page.txt"
    assert " ".join(s["source"] for s in translated["segments"]) == french


def test_pipeline_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--order", "sideways", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--order sideways" in result.stderr
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--summarizer", "lead-3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Helsinki-NLP/opus-mt-fr-en" in result.stderr
    assert not (tmp_path / "o").exists()


def test_many_documents_share_generation_batches(tiny_bart: Path, generate_calls: list[int]) -> None:
    calls = generate_calls
    summarizer = load_summarizer(str(tiny_bart), "fr", EngineOptions(device="cpu", backend="torch"))
    short = [doc(f"Phrase courte numéro {i}.", f"d{i}") for i in range(5)]
    long = doc(SEED_FILES[1].read_text(encoding="utf-8"), "long")
    results = summarizer.summarize_documents(short + [long])
    assert [r.id for r in results] == ["d0", "d1", "d2", "d3", "d4", "long"]
    levels = results[-1].extra["map_reduce_levels"]
    # One call per map-reduce level of the long document, then one call for all six final summaries.
    assert calls == [level["chunks"] for level in levels] + [6]
    assert not any(r.extra["chunked"] for r in results[:5]) and results[-1].extra["chunked"]
    alone = summarizer.summarize_document(long)
    assert alone.output == results[-1].output and alone.extra["map_reduce_levels"] == levels


# -- issue 28.9a: lead-N reads a long text only as far as its first N sentences --------------------

def _long_text(size: int, seed: int, lines: bool) -> str:
    import random

    from toolkit.models.random import FRENCH_SAMPLE

    rng = random.Random(seed)
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        parts.append(rng.choice(FRENCH_SAMPLE) + (rng.choice(["\n", " ", " ", " M. Roy.", " etc."]) if lines else ""))
    return " ".join(parts)


@pytest.mark.parametrize("lines", [False, True])
def test_leading_sentences_are_the_whole_texts_first_sentences(lines: bool) -> None:
    from toolkit.text.segment import PYSBD_WINDOW, leading_sentences, segment_document

    for seed in range(2):
        text = _long_text(14 * PYSBD_WINDOW, seed, lines)
        whole = [s for _, _, s in segment_document(text, "fr").sentences]
        for wanted, read in ((1, 3 * PYSBD_WINDOW), (5, 3 * PYSBD_WINDOW), (40, 4 * PYSBD_WINDOW), (10_000, 4000)):
            found, _ = leading_sentences(text, "fr", wanted, read)
            assert len(found) >= min(wanted, len(whole))
            assert found == whole[:len(found)]


def test_lead_1_of_a_long_record_segments_only_its_beginning(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.io.documents import Document
    from toolkit.tasks.summarize import LEAD_READ_AHEAD, LeadSummarizer, extractive_units
    from toolkit.text import segment

    text = _long_text(12 * LEAD_READ_AHEAD, 0, False)
    doc = Document(id="big", text=text, source="big.jsonl#big", format="jsonl")
    expected = extractive_units(Document(id="big", text=text[:4 * LEAD_READ_AHEAD], source=""), "fr")[0]
    seen: list[int] = []
    original = segment._pysbd_ends

    def counted(piece: str, lang: str) -> set[int] | None:
        seen.append(len(piece))
        return original(piece, lang)

    monkeypatch.setattr(segment, "_pysbd_ends", counted)
    result = LeadSummarizer(1, "fr").summarize_document(doc)
    assert result.output == expected
    assert sum(seen) < len(text) / 4  # the whole text would be len(text)
    assert result.extra["read_characters"] < len(text)
