"""n-best alternatives (#27) and the server's ``"quality": true`` (#26), through the library and the
server, on tiny random-weight models: properties that hold whatever the model emits (the
translation unchanged by asking for alternatives, alternatives distinct and restored with their
spans and terms, the memory untouched, the server equal to the library)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib import parse, request

import pytest

from toolkit.options import EngineOptions
from toolkit.tasks.translate import Translator, document_from_text
from toolkit.text.glossary import extend_glossary

TEXT = ("Le gouvernement a présenté https://example.com/loi mercredi un nouveau projet de loi.\n\n"
        "Merci beaucoup. Le Kremlin a répondu jeudi.")
URL = "https://example.com/loi"


@pytest.fixture(scope="module", params=["torch", "ct2"])
def translator(request: pytest.FixtureRequest, tiny_marian: Path) -> Translator:
    return Translator.from_pretrained(str(tiny_marian), "fr", "en", backend=request.param)


def test_engine_returns_the_n_best_with_beams_raised_to_n(translator: Translator) -> None:
    engine = translator.engine
    assert int(engine.settings["num_beams"]) == 2  # the tiny model's own beams: fewer than asked for
    texts = ["Merci beaucoup.", "Le gouvernement a présenté mercredi un nouveau projet de loi."]
    hypotheses = engine.hypotheses(texts, 4)
    assert [len(h) for h in hypotheses] == [4, 4]
    assert engine.settings["num_beams"] == 2  # raised for that search only
    assert engine.nbest_beams(4) == 4 and engine.nbest_beams(1) == 2
    # A search with the model's own beams returns its best hypothesis first, as generate does.
    assert [h[0] for h in engine.hypotheses(texts, 2)] == [g.text for g in engine.generate(texts)]


def test_the_translation_is_the_same_with_or_without_alternatives(translator: Translator) -> None:
    doc = document_from_text(TEXT, "a")
    plain = translator.translate_batch([doc])[0]
    asked = translator.translate_batch([document_from_text(TEXT, "a")], alternatives=3)[0]
    assert asked.output == plain.output  # byte for byte
    assert [s.output for s in asked.segments] == [s.output for s in plain.segments]
    assert plain.alternatives is None and all(s.alternatives is None for s in plain.segments)
    assert "alternatives" not in plain.segments[0].to_dict()  # runs without them are unchanged
    assert asked.alternatives and len(asked.alternatives) <= 3
    assert len(set(asked.alternatives)) == len(asked.alternatives) and plain.output not in asked.alternatives
    for record in asked.segments:
        assert record.alternatives is not None and len(record.alternatives) <= 3
        assert record.output not in record.alternatives and len(set(record.alternatives)) == len(record.alternatives)
    # Argos's rule: the k-th alternative of the text has every sentence's k-th alternative.
    first = asked.alternatives[0]
    assert first.count("\n") == plain.output.count("\n")
    for record in asked.segments:
        assert (record.alternatives or [record.output])[0] in first


def test_alternatives_keep_protected_spans_and_glossary_terms(translator: Translator) -> None:
    glossed = translator.with_glossary(extend_glossary(None, {"Kremlin": "KREMLIN-TERM"}))
    result = glossed.translate_batch([document_from_text(TEXT, "a")], alternatives=3)[0]
    assert URL in result.output and "KREMLIN-TERM" in result.output
    assert result.alternatives
    for alternative in result.alternatives:
        assert URL in alternative and "KREMLIN-TERM" in alternative
    for record in result.segments:
        for alternative in record.alternatives or []:
            assert (URL in alternative) == (URL in record.source)
            assert ("KREMLIN-TERM" in alternative) == ("Kremlin" in record.source)


def test_html_alternatives_are_escaped_like_the_translation(translator: Translator) -> None:
    doc = document_from_text("<p>Bonjour &amp; merci beaucoup.</p><p>Le Kremlin a répondu.</p>", "h", "html")
    result = translator.translate_batch([doc], alternatives=2)[0]
    for alternative in result.alternatives or []:
        assert alternative.startswith("<p>") and alternative.count("<p>") == 2 and alternative.endswith("</p>")


def test_alternatives_are_neither_served_from_nor_written_to_the_memory(tiny_marian: Path, tmp_path: Path) -> None:
    from toolkit.io.memory import MemoryFile

    tm = tmp_path / "news.tm"
    engine = EngineOptions(backend="ct2", memory=str(tm))
    first = Translator.from_pretrained(str(tiny_marian), "fr", "en", engine=engine)
    plain = first.translate_batch([document_from_text(TEXT, "a")])[0]
    entries = MemoryFile(tm).stats()["entries"]
    again = Translator.from_pretrained(str(tiny_marian), "fr", "en", engine=engine)
    asked = again.translate_batch([document_from_text(TEXT, "a")], alternatives=2)[0]
    assert asked.output == plain.output and again.counts.memory == again.counts.units  # translation: from memory
    assert asked.alternatives  # searched, not taken from the memory's entries (which hold none)
    assert MemoryFile(tm).stats()["entries"] == entries  # nothing stored by the search
    fresh = Translator.from_pretrained(str(tiny_marian), "fr", "en", engine=EngineOptions(backend="ct2"))
    assert fresh.translate_batch([document_from_text(TEXT, "a")], alternatives=2)[0].alternatives == asked.alternatives


def test_dedupe_searches_each_distinct_text_once(tiny_marian: Path) -> None:
    tr = Translator.from_pretrained(str(tiny_marian), "fr", "en", backend="torch")
    calls: list[int] = []
    original = tr.engine.hypotheses

    def counted(texts, count):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return original(texts, count)

    tr.engine.hypotheses = counted  # type: ignore[method-assign]
    hyps = tr.generator.translate_hypotheses(["Merci.", "Bonjour.", "Merci."], 3)
    assert calls == [2] and hyps[0] == hyps[2]


def test_a_pivot_gives_the_last_hops_hypotheses_of_the_pivot_text(tiny_marian: Path, tiny_en_de: Path) -> None:
    from toolkit.models.registry import Hop, Route
    from toolkit.tasks.translate import PivotTranslator

    first = Translator.from_pretrained(str(tiny_marian), "fr", "en", backend="torch").sentences
    second = Translator.from_pretrained(str(tiny_en_de), "en", "de", backend="torch").sentences
    hops = [Hop(str(tiny_marian), "fr", "en", "direct"), Hop(str(tiny_en_de), "en", "de", "direct")]
    pivot = Translator(PivotTranslator([first, second], Route("fr", "de", "pivot", hops)))
    sentence = "Le président est arrivé."
    english = first.translate_sentences([sentence])[0][0].output
    assert pivot.sentences.translate_hypotheses([sentence], 3) == second.translate_hypotheses([english], 3)
    plain = pivot.translate_batch([document_from_text(sentence, "a")])[0]
    asked = pivot.translate_batch([document_from_text(sentence, "a")], alternatives=2)[0]
    assert asked.output == plain.output and plain.output not in (asked.alternatives or [])


def test_the_routing_translator_passes_alternatives_on(tiny_marian: Path) -> None:
    from toolkit.tasks.translate import document_translator

    doc = document_from_text(TEXT, "a")
    router = document_translator([doc], str(tiny_marian), "fr", "en", engine=EngineOptions(backend="ct2"))
    plain = router.translate_batch([doc])[0]
    asked = router.translate_batch([doc], alternatives=2)[0]
    assert asked.output == plain.output and asked.alternatives and plain.alternatives is None


def test_a_negative_count_is_a_user_error(translator: Translator) -> None:
    from toolkit.errors import ToolkitError

    with pytest.raises(ToolkitError, match="alternatives"):
        translator.translate_batch([document_from_text("Merci.", "a")], alternatives=-1)


# -- the server --------------------------------------------------------------------------------------

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from test_serve import running  # noqa: E402

from toolkit.serve.settings import ServeSettings  # noqa: E402


@pytest.fixture(scope="module")
def server(tiny_marian: Path) -> str:  # type: ignore[misc]
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(backend="ct2",
                             confidence=True), max_wait_ms=50, alternatives_limit=3)
    with running(settings) as url:
        yield url


@pytest.fixture(scope="module")
def library(tiny_marian: Path) -> Translator:
    return Translator.from_pretrained(str(tiny_marian), "fr", "en", engine=EngineOptions(backend="ct2",
                                                                                          confidence=True))


def test_server_alternatives_in_libretranslate_shape(server: str, library: Translator) -> None:
    expected = library.translate_batch([document_from_text(TEXT, "0")], alternatives=2)[0]
    with httpx.Client(base_url=server, timeout=120) as client:
        single = client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en", "alternatives": 2}).json()
        assert single == {"translatedText": expected.output, "alternatives": expected.alternatives}
        texts = [TEXT, "Merci beaucoup.", "Thank you very much."]
        listed = client.post("/translate", json={"q": texts, "source": "auto", "target": "en",
                                                  "alternatives": 2}).json()
        assert listed["translatedText"][0] == expected.output and listed["alternatives"][0] == expected.alternatives
        assert isinstance(listed["alternatives"][1], list) and len(listed["alternatives"]) == 3
        assert listed["alternatives"][2] == [] and listed["translatedText"][2] == texts[2]  # already English
        plain = client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en"}).json()
        assert plain == {"translatedText": expected.output}  # no key unless asked for
        too_many = client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en", "alternatives": 4})
        assert too_many.status_code == 400 and "alternatives parameter must be <= 3" in too_many.json()["error"]


def test_requests_with_alternatives_do_not_change_the_others(server: str, library: Translator) -> None:
    sentences = ["Merci beaucoup.", "Le Kremlin a répondu jeudi.", "Bonjour à tous.", TEXT]
    expected = {s: library.translate([s])[0] for s in sentences}

    def ask(index: int) -> tuple[str, dict]:
        text = sentences[index % len(sentences)]
        body = {"q": text, "source": "fr", "target": "en", **({"alternatives": 3} if index % 2 else {})}
        return text, httpx.post(f"{server}/translate", json=body, timeout=120).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(16)))
    for text, answer in answers:
        assert answer["translatedText"] == expected[text]


def test_the_libretranslate_client_and_its_form_encoding(server: str, library: Translator) -> None:
    libretranslatepy = pytest.importorskip("libretranslatepy")
    client = libretranslatepy.LibreTranslateAPI(server)
    assert client.translate(TEXT, "fr", "en") == library.translate([TEXT])[0]
    # The client's own request (form-encoded), with the alternatives parameter LibreTranslate documents.
    params = parse.urlencode({"q": TEXT, "source": "fr", "target": "en", "alternatives": "2"}).encode()
    with request.urlopen(request.Request(client.url + "translate", data=params), timeout=120) as response:
        answer = json.loads(response.read().decode())
    assert answer["alternatives"] == library.translate_batch([document_from_text(TEXT, "0")], alternatives=2)[0] \
        .alternatives


def test_server_quality_per_sentence(server: str, library: Translator) -> None:
    with httpx.Client(base_url=server, timeout=120) as client:
        answer = client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en", "quality": True}).json()
        assert answer["translatedText"] == library.translate([TEXT])[0]
        quality = answer["quality"]
        assert quality["risk"] in ("ok", "review", "likely-wrong") and len(quality["sentences"]) == 3
        for sentence in quality["sentences"]:
            assert set(sentence) == {"source", "translation", "confidence", "flags", "risk"}
            assert sentence["confidence"] <= 0 and sentence["risk"] in ("ok", "review", "likely-wrong")
            assert all(set(flag) == {"name", "reason"} for flag in sentence["flags"])
        order = ("ok", "review", "likely-wrong")
        assert quality["risk"] == max((s["risk"] for s in quality["sentences"]), key=order.index)
        # The library's own annotation gives the same flags and risk.
        from toolkit.config import load_defaults
        from toolkit.quality.annotate import annotate

        results = library.translate_batch([document_from_text(TEXT, "0")])
        annotate(results, "fr", "en", load_defaults().quality)
        assert [(s["flags"], s["risk"]) for s in quality["sentences"]] == \
            [(r.flags, r.risk) for r in results[0].segments]
        listed = client.post("/translate", json={"q": [TEXT, "Hello there."], "source": "auto", "target": "en",
                                                  "quality": "true"}).json()
        assert len(listed["quality"]) == 2 and listed["quality"][1] == {"sentences": []}  # English: not checked
        assert "quality" not in client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en"}).json()
        bad = client.post("/translate", json={"q": TEXT, "source": "fr", "target": "en", "quality": "maybe"})
        assert bad.status_code == 400 and "quality parameter must be true or false" in bad.json()["error"]


def test_quality_without_confidence_leaves_it_out(tiny_marian: Path) -> None:
    settings = ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(backend="torch"))
    with running(settings) as url:
        answer = httpx.post(f"{url}/translate", json={"q": "Merci beaucoup.", "source": "fr", "target": "en",
                                                      "quality": True}, timeout=120).json()
    sentence = answer["quality"]["sentences"][0]
    assert "confidence" not in sentence and sentence["risk"] in ("ok", "review", "likely-wrong")
