"""Work never done twice (#29): deduplication within a run, the translation memory across runs."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import seed_texts
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ToolkitError
from toolkit.io.documents import Document
from toolkit.io.memory import Entry, MemoryFile
from toolkit.options import EngineOptions
from toolkit.tasks.memory import Deduplicator, TranslationMemory
from toolkit.tasks.translate import Translator

runner = CliRunner()

BOILERPLATE = ["PARIS (AFP) -", "Lire aussi : Le gouvernement présente son budget.",
               "Par notre correspondant à Bruxelles.", "© Agence France-Presse. Tous droits réservés."]


def repetitive_docs() -> list[Document]:
    """Documents sharing datelines, credits and whole sentences (successive versions of a story)."""
    paragraphs = [p for text in seed_texts() for p in text.split("\n\n") if p.strip()][:6]
    docs = []
    for i in range(12):
        body = "\n\n".join([BOILERPLATE[i % 2], paragraphs[i % 3], paragraphs[(i + 1) % 3],
                            BOILERPLATE[2 + i % 2], f"Mise à jour numéro {i % 4}."])
        docs.append(Document(id=f"d{i}", text=body, source="test"))
    return docs


def options(backend: str, **changes: object) -> EngineOptions:
    quantization = "float32" if backend == "ct2" else None
    return EngineOptions(device="cpu", backend=backend, quantization=quantization, dtype="float32", batch_size=8,
                         **changes)


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_dedupe_gives_the_same_bytes_as_decoding_every_copy(tiny_marian: Path, backend: str) -> None:
    docs = repetitive_docs()
    plain = Translator.from_pretrained(str(tiny_marian), engine=options(backend, dedupe=False), num_beams=2)
    deduped = Translator.from_pretrained(str(tiny_marian), engine=options(backend), num_beams=2)
    assert isinstance(deduped.generator, Deduplicator) and deduped.generator.enabled and not plain.generator.enabled
    expected = plain.translate_batch(docs)
    got = deduped.translate_batch(docs)
    assert [r.output for r in got] == [r.output for r in expected]
    assert [[(s.source, s.output, s.source_tokens, s.output_tokens, s.pieces) for s in r.segments] for r in got] == \
        [[(s.source, s.output, s.source_tokens, s.output_tokens, s.pieces) for s in r.segments] for r in expected]
    assert [r.warnings for r in got] == [r.warnings for r in expected]
    counts = deduped.counts
    assert counts.units == plain.counts.units == plain.counts.decoded
    assert counts.deduplicated > counts.units / 2 and counts.decoded == counts.units - counts.deduplicated
    # a later batch with the same sentences decodes nothing
    again = deduped.translate_batch(docs[:3])
    assert [r.output for r in again] == [r.output for r in expected[:3]]
    assert deduped.counts.decoded == counts.decoded


def test_dedupe_keeps_warnings_of_every_copy(tiny_marian_short: Path) -> None:
    long = " ".join(seed_texts()[0].split()[:80]) + "."
    tr = Translator.from_pretrained(str(tiny_marian_short), engine=options("torch"))
    records, warnings = tr.generator.translate_sentences([long, "Bonjour.", long])
    assert records[0].output == records[2].output and records[0].pieces == records[2].pieces > 1
    assert {i for i, _ in warnings} >= {0, 2}
    plain = tr.sentences.translate_sentences([long, "Bonjour.", long])
    assert [(r.output, r.pieces, r.source_tokens, r.output_tokens) for r in records] == \
        [(r.output, r.pieces, r.source_tokens, r.output_tokens) for r in plain[0]]
    assert sorted(warnings, key=lambda w: w[0]) == sorted(plain[1], key=lambda w: w[0])


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_memory_second_run_skips_the_engine_and_gives_the_same_bytes(tiny_marian: Path, tmp_path: Path,
                                                                     backend: str) -> None:
    docs = repetitive_docs()
    tm = str(tmp_path / "news.tm")
    first = Translator.from_pretrained(str(tiny_marian), engine=options(backend, memory=tm))
    expected = first.translate_batch(docs)
    assert first.counts.memory == 0 and first.counts.decoded > 0
    second = Translator.from_pretrained(str(tiny_marian), engine=options(backend, memory=tm))
    engine = second.engine
    calls: list[int] = []
    original = engine.generate
    engine.generate = lambda texts, on_batch=None: calls.append(len(texts)) or original(texts, on_batch)  # type: ignore[method-assign]
    got = second.translate_batch(docs)
    assert calls == [] and second.counts.decoded == 0 and second.counts.memory > 0
    assert [(r.output, r.warnings, [(s.output, s.source_tokens, s.output_tokens) for s in r.segments])
            for r in got] == [(r.output, r.warnings, [(s.output, s.source_tokens, s.output_tokens) for s in r.segments])
                              for r in expected]


def test_memory_key_has_the_settings_that_change_outputs(tiny_marian: Path, tmp_path: Path) -> None:
    tm = str(tmp_path / "news.tm")
    Translator.from_pretrained(str(tiny_marian), engine=options("torch", memory=tm), num_beams=1).translate(["Bonjour."])
    other = Translator.from_pretrained(str(tiny_marian), engine=options("torch", memory=tm), num_beams=3)
    other.translate(["Bonjour."])
    assert other.counts.memory == 0 and other.counts.decoded == 1
    threads = Translator.from_pretrained(str(tiny_marian), engine=options("torch", memory=tm, threads=1), num_beams=3)
    threads.translate(["Bonjour."])
    assert threads.counts.memory == 1  # threads change speed, not output
    stats = MemoryFile(tm).stats()
    assert stats["entries"] == 2 and len(stats["contexts"]) == 2


def test_memory_is_bounded_lru(tiny_marian: Path, tmp_path: Path) -> None:
    tm = tmp_path / "small.tm"
    tr = Translator.from_pretrained(str(tiny_marian), engine=options("torch", memory=str(tm), memory_max_entries=3,
                                                                     dedupe=False))
    tr.translate(["Un.", "Deux.", "Trois."])
    tr.translate(["Un."])  # refreshes "Un."
    tr.translate(["Quatre."])
    memory = MemoryFile(tm)
    assert memory.stats()["entries"] == 3
    assert {row[2] for row in memory.rows()} == {"Un.", "Trois.", "Quatre."}
    assert memory.prune(max_entries=1) == 2 and memory.stats()["entries"] == 1


def test_foreign_and_corrupt_files_are_refused_with_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    with pytest.raises(ToolkitError, match="not an SQLite file"):
        MemoryFile(text)
    assert text.read_text() == "not a database\n"
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ToolkitError, match="not a toolkit translation memory"):
        MemoryFile(foreign)
    good = tmp_path / "good.tm"
    MemoryFile(good).close()
    with sqlite3.connect(good) as db:
        db.execute("UPDATE settings SET value = '99' WHERE name = 'version'")
    with pytest.raises(ToolkitError, match="schema version 99"):
        MemoryFile(good)
    broken = tmp_path / "broken.tm"
    MemoryFile(broken).close()
    data = bytearray(broken.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    broken.write_bytes(bytes(data))
    with pytest.raises(ToolkitError, match=r"broken\.tm"):
        MemoryFile(broken)
    result = runner.invoke(app, ["tm", "stats", str(text)])
    assert result.exit_code == 2 and "not an SQLite file" in result.stderr and "Traceback" not in result.output


def _writer(path: str, start: int, count: int) -> None:
    from toolkit.io.memory import Entry, MemoryFile

    memory = MemoryFile(path)
    for i in range(start, start + count):
        memory.store("ctx", {f"s{i}": Entry(f"o{i}", {"pieces": 1, "source_tokens": 1, "output_tokens": 1,
                                                       "via": []}, [])})
        memory.lookup("ctx", [f"s{i - 1}", f"s{i}"])


def test_two_processes_write_one_memory(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.tm")
    MemoryFile(path).register("ctx", "fr", "en", {"model": "x"})
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, k * 200, 200)) for k in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    memory = MemoryFile(path)
    assert memory.stats()["entries"] == 400
    assert memory.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert memory.lookup("ctx", ["s5", "s399"])["s399"].output == "o399"


def test_interrupted_write_keeps_the_memory(tmp_path: Path) -> None:
    from toolkit.io.memory import Entry

    path = tmp_path / "t.tm"
    memory = MemoryFile(path)
    memory.register("ctx", "fr", "en", {})
    memory.store("ctx", {"a": Entry("A", {"pieces": 1, "source_tokens": 1, "output_tokens": 1, "via": []}, [])})
    with pytest.raises(RuntimeError), memory._write() as db:
        db.execute("INSERT INTO entries VALUES ('k', 'ctx', 'b', 'B', '{}', 0, 0)")
        raise RuntimeError("killed mid-write")
    assert MemoryFile(path).stats()["entries"] == 1


def test_cli_tm_and_manifest_counts(tiny_marian: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("PARIS (AFP) - Bonjour.\n\nPARIS (AFP) - Bonjour.\n\nLe président a parlé.\n", encoding="utf-8")
    tm = tmp_path / "news.tm"
    outputs = []
    for run, extra in (("a", []), ("b", ["--no-dedupe"]), ("c", ["--tm", str(tm)]), ("d", ["--tm", str(tm)])):
        result = runner.invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--backend", "torch",
                                     "--out", str(tmp_path / run), "-q", *extra])
        assert result.exit_code == 0, result.output
        manifest = json.loads((tmp_path / run / "manifest.json").read_text())
        outputs.append(((tmp_path / run / "in.txt").read_text(), manifest["units"]))
    assert len({text for text, _ in outputs}) == 1
    assert outputs[0][1] == {"units": 3, "decoded": 2, "deduplicated": 1, "from_memory": 0}
    assert outputs[1][1] == {"units": 3, "decoded": 3, "deduplicated": 0, "from_memory": 0}
    assert outputs[3][1] == {"units": 3, "decoded": 0, "deduplicated": 1, "from_memory": 2}
    stats = runner.invoke(app, ["tm", "stats", str(tm), "--json"])
    assert stats.exit_code == 0 and json.loads(stats.stdout)["entries"] == 2
    tmx = tmp_path / "export.tmx"
    exported = runner.invoke(app, ["tm", "export", str(tm), "--out", str(tmx)])
    assert exported.exit_code == 0, exported.output
    root = ET.parse(tmx).getroot()
    assert root.tag == "tmx" and root.get("version") == "1.4"
    header = root.find("header")
    assert header is not None and header.get("srclang") == "fr" and header.get("segtype") == "sentence"
    units = root.findall("body/tu")
    assert len(units) == 2
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for tu in units:
        assert [tuv.get(lang) for tuv in tu.findall("tuv")] == ["fr", "en"]
        assert all(tuv.find("seg") is not None for tuv in tu.findall("tuv"))
    assert {tu.find("tuv/seg").text for tu in units} == {"PARIS (AFP) - Bonjour.", "Le président a parlé."}  # type: ignore[union-attr]
    pruned = runner.invoke(app, ["tm", "prune", str(tm), "--max-entries", "1"])
    assert pruned.exit_code == 0 and MemoryFile(tm).stats()["entries"] == 1


def test_tm_export_over_the_memory_itself_is_refused_and_the_memory_kept(tmp_path: Path) -> None:
    """`tm export news.tm -o news.tm --overwrite` replaced the memory with its TMX: data lost."""
    tm = tmp_path / "news.tm"
    memory = MemoryFile(tm)
    memory.register("ctx", "fr", "en", {})
    memory.store("ctx", {"a": Entry("A", {"pieces": 1, "source_tokens": 1, "output_tokens": 1, "via": []}, [])})
    memory.close()
    for out in (tm, tmp_path / "news.tm-wal", tmp_path / "." / "news.tm"):
        result = runner.invoke(app, ["tm", "export", str(tm), "--out", str(out), "--overwrite"])
        assert result.exit_code == 2 and "is the translation memory being exported" in result.stderr
    assert tm.read_bytes().startswith(b"SQLite format 3") and MemoryFile(tm).stats()["entries"] == 1


def test_memory_wraps_by_composition(tiny_marian: Path, tmp_path: Path) -> None:
    tr = Translator.from_pretrained(str(tiny_marian), engine=options("torch", dedupe=False))
    memory = TranslationMemory(tr.sentences, tmp_path / "lib.tm")
    records, _ = memory.translate_sentences(["Bonjour.", "Bonjour."])
    assert records[0].output == records[1].output == tr.sentences.translate_sentences(["Bonjour."])[0][0].output
    assert (memory.counts.memory, memory.counts.deduplicated, memory.counts.decoded) == (0, 1, 1)
    memory.translate_sentences(["Bonjour.", "Bonjour."])
    assert (memory.counts.memory, memory.counts.decoded) == (2, 1)


def test_server_serves_repeats_from_the_memory_and_counts_them(tiny_marian: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    from serve_helpers import running

    from toolkit.serve.settings import ServeSettings

    tm = tmp_path / "serve.tm"
    library = Translator.from_pretrained(str(tiny_marian), "fr", "en")
    texts = ["PARIS (AFP) - Le président a parlé.", "Bonjour le monde."]
    answers = []
    for _ in range(2):  # the second server starts with the memory the first one filled
        settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(memory=str(tm)),
                                 max_wait_ms=20)
        with running(settings) as url, httpx.Client(base_url=url, timeout=120) as client:
            answer = client.post("/translate", json={"q": texts, "source": "fr", "target": "en"})
            assert answer.status_code == 200, answer.text
            answers.append(answer.json()["translatedText"])
            metrics = client.get("/metrics").text
            answers.append({line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                            if line.startswith("toolkit_serve_memory_") and "_total{" in line})
    assert answers[0] == answers[2] == library.translate(texts)
    assert answers[1] == {"toolkit_serve_memory_hits_total": 0.0, "toolkit_serve_memory_misses_total": 2.0}
    assert answers[3] == {"toolkit_serve_memory_hits_total": 2.0, "toolkit_serve_memory_misses_total": 0.0}


def test_serve_refuses_a_foreign_memory_file(tmp_path: Path) -> None:
    foreign = tmp_path / "x.tm"
    foreign.write_text("hello")
    result = runner.invoke(app, ["serve", "--translator", "fr-en=/nonexistent", "--tm", str(foreign)])
    assert result.exit_code == 2 and "not an SQLite file" in result.stderr
