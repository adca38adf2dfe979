"""A run served from the translation memory does only the work it needs (#29): the model is loaded
at the first unit the memory lacks (never, when it lacks none), repeated paragraphs are segmented
once, and every output byte stays what the model gave."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import seed_texts
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.io.memory import MemoryFile, remembered_load
from toolkit.io.results import SegmentRecord
from toolkit.options import EngineOptions
from toolkit.tasks.memory import DeferredTranslator, TranslationMemory
from toolkit.tasks.translate import Translator

REPO = Path(__file__).resolve().parents[1]
ENGINE_LIBRARIES = ("ctranslate2", "torch", "transformers", "sentencepiece")

# Runs the CLI in this process, then says which engine libraries it imported.
_PROBE = """
import json, sys
from toolkit.cli import main
sys.argv = ["toolkit", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(name for name in {libraries!r} if name in sys.modules)))
"""


def _corpus(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": text}, ensure_ascii=False) + "\n"
                            for i, text in enumerate(docs)), encoding="utf-8")
    return path


def _documents() -> list[str]:
    paragraphs = [p for text in seed_texts() for p in text.split("\n\n") if p.strip()][:4]
    return [f"PARIS (AFP) -\n\n{paragraphs[i % 4]}\n\n{paragraphs[(i + 1) % 4]}\n\nTous droits réservés."
            for i in range(6)]


def _translate(args: list[str]) -> list[str]:
    """``toolkit translate ARGS`` in a fresh process; the engine libraries it imported."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _PROBE.format(libraries=ENGINE_LIBRARIES),
                           json.dumps(["translate", *args])], env=env, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _outputs(run: Path) -> dict[str, bytes]:
    """Every file of a run folder but the manifest (shards, details, failures), by path."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and ".run" not in p.parts}


def _steady(manifest: dict) -> dict:
    """A manifest without what differs between any two runs (time, command line)."""
    drop = ("created", "argv", "timing", "timings", "seconds", "elapsed")

    def clean(value: object) -> object:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(manifest)  # type: ignore[return-value]


@pytest.mark.parametrize("backend", ["ct2", "torch"])
def test_a_run_served_wholly_from_the_memory_never_loads_the_model(tiny_marian: Path, tmp_path: Path,
                                                                  backend: str) -> None:
    corpus = _corpus(tmp_path / "wire.jsonl", _documents())
    tm = tmp_path / "news.tm"
    common = [str(corpus), "-m", str(tiny_marian), "--src", "fr", "--tgt", "en", "--backend", backend, "-q"]
    assert _translate([*common, "--out", str(tmp_path / "plain")])  # no memory: the model is loaded
    assert _translate([*common, "--tm", str(tm), "--out", str(tmp_path / "first")])
    assert _translate([*common, "--tm", str(tm), "--out", str(tmp_path / "second")]) == []  # nothing imported
    plain, second = tmp_path / "plain", tmp_path / "second"
    assert _outputs(second) == _outputs(plain) == _outputs(tmp_path / "first")  # byte-identical shards
    manifests = [json.loads((tmp_path / run / "manifest.json").read_text()) for run in ("first", "second")]
    assert manifests[1]["totals"]["units_decoded"] == 0 and manifests[1]["totals"]["units_from_memory"] > 0
    # The model's description (identity, backend, settings) is the one the loading run recorded.
    first, again = (_steady(m) for m in manifests)
    for key in ("totals", "shards", "units"):
        first.pop(key, None), again.pop(key, None)
    if "converted_this_run" in first:
        first["converted_this_run"] = False  # the first ct2 run may have converted the model
        for route in first.get("routes", {}).values():
            route["converted_this_run"] = False
    assert again == first

    # A document the memory lacks: the model loads at that first miss; its output is the model's.
    more = _corpus(tmp_path / "more.jsonl", [*_documents(), "Le maire a présenté un nouveau budget hier soir."])
    common[0] = str(more)
    assert _translate([*common, "--out", str(tmp_path / "plain-more")])
    assert _translate([*common, "--tm", str(tm), "--out", str(tmp_path / "third")])
    assert _outputs(tmp_path / "third") == _outputs(tmp_path / "plain-more")
    third = json.loads((tmp_path / "third" / "manifest.json").read_text())
    assert third["totals"]["units_decoded"] == 1


def _engine(**changes: object) -> EngineOptions:
    return EngineOptions(device="cpu", backend="torch", dtype="float32", batch_size=8, **changes)


def test_the_model_loads_at_the_first_miss_only(tiny_marian: Path, tmp_path: Path) -> None:
    tm = str(tmp_path / "news.tm")
    first = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=tm))
    assert isinstance(first.sentences, DeferredTranslator) and first.sentences.is_loaded  # nothing remembered yet
    expected = first.translate(["Bonjour.", "Le président a parlé."])
    second = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=tm))
    assert isinstance(second.sentences, DeferredTranslator) and not second.sentences.is_loaded
    assert second.describe() == {**first.describe()}
    assert second.translate(["Bonjour.", "Le président a parlé."]) == expected
    assert not second.sentences.is_loaded and second.counts.memory == 2
    fresh = second.translate(["Il pleut."])  # a miss: loaded now
    assert second.sentences.is_loaded and second.counts.decoded == 1
    assert fresh == Translator.from_pretrained(str(tiny_marian), engine=_engine()).translate(["Il pleut."])
    # Another setting is another load: nothing remembered for it, so it loads at once.
    beams = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=tm), num_beams=3)
    assert isinstance(beams.sentences, DeferredTranslator) and beams.sentences.is_loaded


def test_a_remembered_load_that_differs_from_the_real_one_is_not_trusted_past_the_first_miss(
        tiny_marian: Path, tmp_path: Path) -> None:
    tm = tmp_path / "news.tm"
    first = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=str(tm)))
    expected = first.translate(["Bonjour.", "Il pleut."])
    assert isinstance(first.sentences, DeferredTranslator)
    key = first.sentences.key
    remembered = remembered_load(tm, key)
    assert remembered is not None and remembered["generation"] == first.describe()["generation"]
    # A load remembered wrongly (as if the key had missed what changed it): other settings.
    memory = MemoryFile(tm)
    memory.remember_load(key, {**remembered, "generation": {**remembered["generation"], "num_beams": 7}})
    memory.close()
    second = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=str(tm)))
    assert second.describe()["generation"]["num_beams"] == 7 and not second.sentences.is_loaded  # type: ignore[union-attr]
    # No entry under the wrong settings: the first miss loads the model, whose real settings key
    # the lookups from then on: the memory's entries are found again and the output is the model's.
    assert second.translate(["Bonjour.", "Il pleut."]) == expected
    assert second.counts.memory == 2 and second.counts.decoded == 0
    assert second.describe()["generation"] == first.describe()["generation"]
    assert remembered_load(tm, key) == json.loads(json.dumps(first.describe()))  # put right in the file


def test_remembered_load_reads_nothing_but_a_memory(tmp_path: Path) -> None:
    assert remembered_load(tmp_path / "absent.tm", "k") is None
    (tmp_path / "text.tm").write_text("not sqlite", encoding="utf-8")
    assert remembered_load(tmp_path / "text.tm", "k") is None
    assert (tmp_path / "text.tm").read_text(encoding="utf-8") == "not sqlite"
    memory = MemoryFile(tmp_path / "m.tm")
    assert remembered_load(tmp_path / "m.tm", "k") is None
    memory.remember_load("k", {"model": {"reference": "x"}})
    assert remembered_load(tmp_path / "m.tm", "k") == {"model": {"reference": "x"}}


def test_a_version_1_memory_without_the_loads_table_still_works(tiny_marian: Path, tmp_path: Path) -> None:
    tm = tmp_path / "old.tm"
    first = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=str(tm)))
    expected = first.translate(["Bonjour."])
    memory = MemoryFile(tm)
    memory.db.execute("DROP TABLE loads")  # as a file written before loads were remembered
    memory.close()
    again = Translator.from_pretrained(str(tiny_marian), engine=_engine(memory=str(tm)))
    assert again.sentences.is_loaded  # type: ignore[union-attr]  nothing remembered: loaded at once
    assert again.translate(["Bonjour."]) == expected and again.counts.memory == 1
    assert remembered_load(tm, again.sentences.key) is not None  # type: ignore[union-attr]


def test_memory_composition_by_hand_still_takes_any_translator(tiny_marian: Path, tmp_path: Path) -> None:
    bare = Translator.from_pretrained(str(tiny_marian), engine=_engine(dedupe=False))
    memory = TranslationMemory(bare.sentences, tmp_path / "lib.tm")
    assert memory.translate_sentences(["Bonjour."])[0][0].output == bare.translate(["Bonjour."])[0]


def test_repeated_paragraphs_are_segmented_once_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.text import segment

    text = "\n\n".join(_documents())
    expected = segment.segment_document(text, "fr")
    calls: list[str] = []
    original = segment._sentence_spans

    def counted(text: str, lang: str | None, keep: object) -> list[tuple[int, int]]:
        calls.append(text)
        return original(text, lang, keep)  # type: ignore[arg-type]

    monkeypatch.setattr(segment, "_sentence_spans", counted)
    segment._remembered_spans.cache_clear()
    segment._remembered_paragraph.cache_clear()
    got = segment.segment_document(text, "fr")
    assert got.lines == expected.lines
    assert len(calls) == len(set(calls)) < len(got.paragraphs)  # each distinct paragraph once
    # Every caller gets a paragraph of its own: changing one does not change the next.
    got.paragraphs[1].sentences.append("changed")
    got.paragraphs[1].protected.append([(0, 1)])
    assert segment.segment_document(text, "fr").lines == expected.lines


_records = st.builds(SegmentRecord, st.integers(0, 9), st.integers(0, 9), st.text(max_size=5), st.text(max_size=5),
                     st.integers(0, 3), st.integers(0, 99), st.integers(0, 99), st.lists(st.text(max_size=3)),
                     st.integers(0, 3), st.integers(0, 3), st.none() | st.floats(-9, 0),
                     st.none() | st.lists(st.fixed_dictionaries({"name": st.text(max_size=3),
                                                                 "reason": st.text(max_size=3)})),
                     st.none() | st.sampled_from(["ok", "review"]))


@settings(max_examples=200, deadline=None)
@given(_records)
def test_segment_records_are_written_as_before(record: SegmentRecord) -> None:
    from toolkit.io.results import NOT_WRITTEN, OPTIONAL_SEGMENT_FIELDS

    expected = dataclasses.asdict(record)
    for key in NOT_WRITTEN:
        del expected[key]
    for key in OPTIONAL_SEGMENT_FIELDS:
        if expected[key] is None:
            del expected[key]
    got = record.to_dict()
    assert json.dumps(got) == json.dumps(expected)
    assert got["via"] is not record.via
    if record.flags:
        assert got["flags"][0] is not record.flags[0]


def _tree(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and ".run" not in p.parts}


def test_pipeline_takes_the_translation_memory(tiny_marian: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from toolkit.cli import app

    runner = CliRunner()
    folder = tmp_path / "in"
    folder.mkdir()
    for i, text in enumerate(_documents()[:3]):
        (folder / f"d{i}.txt").write_text(text + "\n", encoding="utf-8")
    corpus = _corpus(tmp_path / "wire.jsonl", _documents())
    for source, units in ((folder, lambda m: m["units"]),
                          (corpus, lambda m: {"decoded": m["totals"]["units_decoded"],
                                              "from_memory": m["totals"]["units_from_memory"]})):
        runs = {}
        tm = tmp_path / f"{Path(source).stem}.tm"
        for name, extra in (("plain", []), ("first", ["--tm", str(tm)]), ("second", ["--tm", str(tm)]),
                            ("copies", ["--no-dedupe"])):
            out = tmp_path / f"{Path(source).stem}-{name}"
            result = runner.invoke(app, ["pipeline", str(source), "--translator", str(tiny_marian), "--summarizer",
                                         "lead-2", "--src", "fr", "--tgt", "en", "--backend", "torch", "--out",
                                         str(out), "-q", *extra])
            assert result.exit_code == 0, result.output
            runs[name] = (_tree(out), units(json.loads((out / "manifest.json").read_text())))
        assert runs["plain"][0] == runs["first"][0] == runs["second"][0] == runs["copies"][0]
        assert runs["second"][1]["decoded"] == 0 and runs["second"][1]["from_memory"] > 0
        assert runs["first"][1]["from_memory"] == 0 and runs["first"][1]["decoded"] > 0
    bad = runner.invoke(app, ["pipeline", str(folder), "--translator", str(tiny_marian), "--summarizer", "lead-1",
                              "--tm-max-entries", "5", "--out", str(tmp_path / "bad"), "-q"])
    assert bad.exit_code == 2 and "--tm-max-entries needs --tm PATH" in bad.output


_WORDS = st.sampled_from(["Le", "président", "a", "parlé", "M", "Mme", "Dr", "etc", "No", "p", "J", "A", "i", "ii",
                          "iv", "U", "S", "12", "3", "2024", "1er", "d'euros", "l’État", "aujourd'hui", "PARIS",
                          "AFP", "Inc", "St", "é", "Ça", "x", "www", "com", "fr", "e", "mail", "Über", "niño"])
_GLUE = st.sampled_from([" ", " ", ", ", " - ", "-", " % ", "'", "’", "  ", ",", " ,"])


@st.composite
def _one_line(draw: st.DrawFn) -> str:
    words = draw(st.lists(_WORDS, min_size=1, max_size=12))
    text = words[0] + "".join(draw(_GLUE) + w for w in words[1:])
    return text + draw(st.sampled_from(["", ".", "!", "?", " .", ". ", " ", "%"]))


@settings(max_examples=400, deadline=None)
@given(_one_line(), st.sampled_from(sorted(__import__("toolkit.text.segment", fromlist=["x"]).ONE_SENTENCE_LANGUAGES)))
def test_lines_pysbd_is_not_asked_about_are_those_it_keeps_whole(text: str, lang: str) -> None:
    from toolkit.text import segment

    if segment._ONE_SENTENCE.fullmatch(text):
        assert segment._pysbd_ends(text, lang) == {len(text.rstrip())}, text


def test_one_sentence_lines_skip_pysbd_and_segment_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.text import segment

    lines = [line for text in seed_texts() for line in text.split("\n") if line.strip()]
    lines += ["PARIS (AFP) -", "Par Marie Dupont.", "Tous droits de reproduction réservés.", "Lire aussi : Le maire.",
              "© AFP", "Le gouvernement a annoncé lundi un nouveau plan, selon un communiqué, pour 12 %."]
    fast = [line for line in lines if segment._ONE_SENTENCE.fullmatch(line)]
    assert len(fast) >= 3
    for line in lines:
        assert segment._pysbd_ends(line, "fr") == {len(line.rstrip())} or line not in fast, line
    expected = {line: segment._windowed_pysbd_ends(line, "fr") for line in lines}
    asked: list[str] = []
    monkeypatch.setattr(segment, "_windowed_pysbd_ends", lambda text, lang: asked.append(text) or expected[text])
    segment._remembered_spans.cache_clear()
    for line in lines:
        assert segment._sentence_spans(line, "fr", ()) == legacy_spans(line)
    assert not set(asked) & set(fast)


def legacy_spans(line: str) -> list[tuple[int, int]]:
    import legacy_segment

    return legacy_segment.sentence_spans(line, "fr")
