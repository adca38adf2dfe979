"""One translation path for every caller: `toolkit translate`, the Python API and `POST /translate`
plan → generate → restore the same way, so the same text, model and options give the same bytes,
on both backends, with every kind of protected span, glossary and kept terms (issue #24); and with
``--src auto`` a language the model does not cover is skipped, and engine errors are their own line
(issue #28, items 2 and 6). Expected outputs come from the library, so they hold whatever a random
model emits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.options import EngineOptions

runner = CliRunner()

MARKDOWN = """# Le président au Kremlin

Voir https://www.afp.com/fr/actualites et écrivez à redaction@afp.fr pour le Kremlin.
Lancez `make test` : {name} a reçu %s messages, soit 81,31 % des voix le 12 mars 2024.
Le président Vladimir Poutine a parlé à Tokaïev, selon [le site](https://ex.fr/a "titre") et <b>le journal</b>.

| Ville | Population |
|---|---|
| Paris | Deux millions d'habitants |

- Une liste avec un chemin docs/guide.md et @afpfr.

```python
print("Bonjour le monde.")
```
"""

HTML = """<!DOCTYPE html><html><head><title>Le président au Kremlin</title><style>p { color: red; }</style>
<script>if (a < b) { x(); }</script></head>
<body><h1>Le président au Kremlin</h1>
<p>Voir <a href="https://www.afp.com/fr">le site de l'AFP</a> et écrivez à redaction@afp.fr. Le président <b>Vladimir Poutine</b> a reçu Tokaïev.</p>
<p>{name} a %s messages &amp; 81,31 % des voix.<br>Deuxième ligne, https://ex.fr/page.</p>
<img src="photo.png" alt="Une image du président">
<pre>  code   gardé </pre><code>x = 1</code><kbd>Ctrl</kbd><samp>sortie</samp><var>y</var><textarea>texte brut</textarea>
<template><p>Modèle caché</p></template><svg><text>Dessin</text></svg><math><mi>z</mi></math><noscript>Activez JavaScript.</noscript>
<p translate="no">Ne pas traduire.</p><p class="notranslate">Non plus.</p>
</body></html>
"""

GLOSSARY = {"président": "president", "Kremlin": "Kremlin"}
KEEP = ["Tokaïev"]
# Verbatim in every output: protected spans, untranslated elements, kept terms.
VERBATIM = {
    "md": ["https://www.afp.com/fr/actualites", "redaction@afp.fr", "`make test`", "{name}", "%s", "<b>", "</b>",
           "](https://ex.fr/a \"titre\")", "docs/guide.md", "@afpfr", 'print("Bonjour le monde.")', "Tokaïev",
           "Kremlin", "|---|---|"],
    "html": ['<a href="https://www.afp.com/fr">', "redaction@afp.fr", "{name}", "%s", "<b>", "</b>", "<br>",
             "https://ex.fr/page", "p { color: red; }", "if (a < b) { x(); }", "<pre>  code   gardé </pre>",
             "<code>x = 1</code>", "<kbd>Ctrl</kbd>", "<samp>sortie</samp>", "<var>y</var>",
             "<textarea>texte brut</textarea>", "<template><p>Modèle caché</p></template>",
             "<svg><text>Dessin</text></svg>", "<math><mi>z</mi></math>", "<noscript>Activez JavaScript.</noscript>",
             '<p translate="no">Ne pas traduire.</p>', '<p class="notranslate">Non plus.</p>', "Tokaïev", "Kremlin",
             'src="photo.png"'],
}


def write_glossary(folder: Path) -> Path:
    path = folder / "terms.tsv"
    path.write_text("".join(f"{term}\t{target}\n" for term, target in GLOSSARY.items()), encoding="utf-8")
    return path


def cli_outputs(model: Path, backend: str, folder: Path, *extra: str) -> dict[str, str]:
    (folder / "article.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "page.html").write_text(HTML, encoding="utf-8")
    out = folder / "out"
    result = runner.invoke(app, ["translate", str(folder / "article.md"), str(folder / "page.html"), "-m", str(model),
                                 "--src", "fr", "--tgt", "en", "--backend", backend, "--out", str(out), "-q",
                                 "--glossary", str(write_glossary(folder)), *[f"--keep={t}" for t in KEEP], *extra])
    assert result.exit_code == 0, result.output
    return {"md": (out / "article.md").read_text(encoding="utf-8"), "html": (out / "page.html").read_text(encoding="utf-8")}


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_cli_api_and_server_give_the_same_bytes(tiny_marian: Path, tmp_path: Path, backend: str) -> None:
    pytest.importorskip("fastapi")
    import httpx
    from serve_helpers import running

    from toolkit.serve.settings import ServeSettings
    from toolkit.tasks.translate import Translator
    from toolkit.text.glossary import load_glossary

    cli = cli_outputs(tiny_marian, backend, tmp_path)
    translator = Translator.from_pretrained(str(tiny_marian), "fr", "en", backend=backend,
                                            glossary=load_glossary(write_glossary(tmp_path), KEEP))
    api = {"md": translator.translate([MARKDOWN], format="md")[0], "html": translator.translate([HTML], format="html")[0]}
    assert api == cli
    for fmt in ("md", "html"):
        for kept in VERBATIM[fmt]:
            assert cli[fmt].count(kept) == {"md": MARKDOWN, "html": HTML}[fmt].count(kept), kept
    assert "president" in cli["md"] and "président" not in cli["md"]
    assert cli["md"].count("\n") == MARKDOWN.count("\n") and cli["md"].startswith("# ")
    assert "<title>" in cli["html"] and cli["html"].count("<p") == HTML.count("<p")
    formats = {"md": "markdown", "html": "html"}
    started = ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(backend=backend),
                            glossary=write_glossary(tmp_path), keep=KEEP)
    with running(started) as url:
        for fmt, text in (("md", MARKDOWN), ("html", HTML)):
            body = {"q": text, "source": "fr", "target": "en", "format": formats[fmt]}
            answer = httpx.post(f"{url}/translate", json=body, timeout=120)
            assert answer.status_code == 200, answer.text
            assert answer.json()["translatedText"] == cli[fmt]
    # The same terms given per request, to a server started without any.
    with running(ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(backend=backend))) as url:
        for fmt, text in (("md", MARKDOWN), ("html", HTML)):
            body = {"q": [text, text], "source": "fr", "target": "en", "format": formats[fmt], "glossary": GLOSSARY,
                    "keep": KEEP}
            answer = httpx.post(f"{url}/translate", json=body, timeout=120)
            assert answer.json()["translatedText"] == [cli[fmt], cli[fmt]]
        plain = httpx.post(f"{url}/translate", json={"q": MARKDOWN, "source": "fr", "target": "en"}, timeout=120)
        assert plain.json()["translatedText"] == Translator.from_pretrained(
            str(tiny_marian), "fr", "en", backend=backend).translate([MARKDOWN])[0]  # text: the CLI's .txt path


def test_text_format_is_the_cli_txt_path_crlf_included(tiny_marian: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx
    from serve_helpers import running

    from toolkit.serve.settings import ServeSettings

    text = SEED_FILES[0].read_text(encoding="utf-8")[:900].replace("\n", "\r\n") + "\r\nVoir https://afp.com/a.\r\n"
    source = tmp_path / "crlf.txt"
    source.write_bytes(text.encode("utf-8"))
    result = runner.invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--src", "fr", "--backend", "torch",
                                 "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    expected = (tmp_path / "out" / "crlf.txt").read_bytes().decode("utf-8")
    assert "https://afp.com/a" in expected and expected.count("\r\n") == text.count("\r\n")
    with running(ServeSettings(translators={"fr-en": str(tiny_marian)}, engine=EngineOptions(backend="torch"))) as url:
        answer = httpx.post(f"{url}/translate", json={"q": text, "source": "fr", "target": "en"}, timeout=120)
        assert answer.json()["translatedText"] == expected


def test_a_pivot_pair_through_the_batcher_is_the_cli_output(tiny_marian: Path, tiny_en_de: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx
    import yaml
    from serve_helpers import running

    from toolkit.serve.settings import ServeSettings

    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"models": [{"id": str(tiny_marian), "kind": "direct", "pairs": ["fr-en"]},
                                                   {"id": str(tiny_en_de), "kind": "direct", "pairs": ["en-de"]}]}))
    (tmp_path / "page.html").write_text(HTML, encoding="utf-8")
    result = runner.invoke(app, ["translate", str(tmp_path / "page.html"), "--src", "fr", "--tgt", "de", "--registry",
                                 str(registry), "--backend", "torch", "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["route"]["kind"] == "pivot"
    expected = (tmp_path / "out" / "page.html").read_text(encoding="utf-8")
    with running(ServeSettings(registry=registry, engine=EngineOptions(backend="torch"))) as url:
        answer = httpx.post(f"{url}/translate", json={"q": HTML, "source": "fr", "target": "de", "format": "html"},
                            timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.json()["translatedText"] == expected


def test_request_glossaries_are_checked(tiny_marian: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx
    from serve_helpers import running
    from test_serve import assert_clean_error

    from toolkit.errors import ToolkitError
    from toolkit.serve.app import create_app
    from toolkit.serve.settings import ServeSettings

    bad = tmp_path / "bad.tsv"
    bad.write_text("président\n", encoding="utf-8")
    with pytest.raises(ToolkitError, match="expected 'source term<TAB>target term'"):
        create_app(ServeSettings(translators={"fr-en": str(tiny_marian)}, glossary=bad))  # `toolkit serve`: exit 2
    with pytest.raises(ToolkitError, match="--keep needs a non-empty term"):
        create_app(ServeSettings(translators={"fr-en": str(tiny_marian)}, keep=[" "]))
    from serve_helpers import free_port

    started = runner.invoke(app, ["serve", "--port", str(free_port()), "--translator", f"fr-en={tiny_marian}",
                                  "--glossary", str(bad), "--keep", "Kremlin"])
    assert started.exit_code == 2 and started.stderr.startswith("toolkit: error: ") and "bad.tsv:1" in started.stderr
    assert len(started.stderr.strip().splitlines()) == 1
    base = {"q": "Le président est au Kremlin.", "source": "fr", "target": "en"}
    with running(ServeSettings(translators={"fr-en": str(tiny_marian)})) as url:
        cases = [({"glossary": ["président"]}, "glossary must be an object"),
                 ({"glossary": {"président": 3}}, "glossary must be an object"),
                 ({"glossary": {"président": " "}}, "non-empty"),
                 ({"keep": [1]}, "keep must be a term or a list"),
                 ({"keep": [""]}, "non-empty"),
                 ({"glossary": {f"t{i}": "x" for i in range(1001)}}, "at most 1000"),
                 ({"keep": ["x" * 201]}, "longer than 200"),
                 ({"format": "docx"}, "docx format is not supported")]
        for extra, fragment in cases:
            assert_clean_error(httpx.post(f"{url}/translate", json={**base, **extra}, timeout=60), 400, fragment)
        assert_clean_error(httpx.post(f"{url}/translate", data={**base, "glossary": "{not json"}, timeout=60), 400,
                           "glossary must be an object")
        # In a form, the glossary is the JSON of the object, and keep a repeatable field.
        as_json = httpx.post(f"{url}/translate", json={**base, "glossary": GLOSSARY, "keep": KEEP}, timeout=60).json()
        as_form = httpx.post(f"{url}/translate", data={**base, "glossary": json.dumps(GLOSSARY), "keep": KEEP},
                             timeout=60).json()
        assert as_form == as_json and as_json["translatedText"].count("Kremlin") == 1
        assert "president" in as_json["translatedText"]


# -- issue #28, items 2 and 6 ---------------------------------------------------------------------

SPANISH = ("El gobierno español presentó el miércoles un nuevo proyecto de ley sobre la vivienda. Los ciudadanos "
           "podrán solicitar ayudas para el alquiler durante los próximos años, según explicó la ministra en "
           "una rueda de prensa en Madrid.")


def test_a_language_the_model_does_not_cover_is_skipped(tiny_marian: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fr.txt").write_text(SEED_FILES[0].read_text(encoding="utf-8")[:600], encoding="utf-8")
    (folder / "es.txt").write_text(SPANISH, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["translate", str(folder), "-m", str(tiny_marian), "--src", "auto", "--out", str(out),
                                 "-q"])
    assert result.exit_code == 3, result.output  # partial: the README's exit code for skipped documents
    manifest = json.loads((out / "manifest.json").read_text())
    assert [d["id"] for d in manifest["documents"]] == ["fr"]
    assert [s["id"] for s in manifest["skipped"]] == ["es"]
    assert "detected as es" in manifest["skipped"][0]["reason"] and "translates from fr" in manifest["skipped"][0]["reason"]
    assert not (out / "es.txt").exists()
    alone = runner.invoke(app, ["translate", str(folder / "es.txt"), "-m", str(tiny_marian), "--src", "auto",
                                "--out", "-"])
    assert alone.exit_code == 2 and "no document can be translated: detected as es" in alone.stderr
    # A corpus: the Spanish record fails alone, with its reason.
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": SEED_FILES[0].read_text(encoding="utf-8")[:400]}) + "\n"
                      + json.dumps({"id": "b", "text": SPANISH}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["translate", str(corpus), "-m", str(tiny_marian), "--src", "auto", "--out",
                                 str(tmp_path / "run"), "-q"])
    assert result.exit_code == 3, result.output
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert failure["id"] == "b" and "translates from fr" in failure["reason"]


def one_error_line(*args: str) -> str:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "--src", "auto", "--out", "-", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolkit: error: "), result.stderr
    assert "no document can be translated" not in lines[0] and "pass --src" not in lines[0]
    return lines[0]


def test_engine_and_model_errors_are_not_detection_failures(tiny_marian: Path) -> None:
    import torch

    assert "--quantization foo" in one_error_line("-m", str(tiny_marian), "--backend", "ct2", "--quantization", "foo")
    assert "--quantization foo" in one_error_line("-m", str(tiny_marian), "--backend", "torch", "--quantization", "foo")
    if not torch.cuda.is_available():
        assert "--device cuda" in one_error_line("-m", str(tiny_marian), "--device", "cuda")
    from toolkit.models.hub import cached_snapshot

    if cached_snapshot("Helsinki-NLP/opus-mt-fr-en") is not None:
        return  # the default model is cached here: nothing fails offline
    # Offline, with nothing cached (what `make run` shows a newcomer): the model's own error.
    line = one_error_line()
    assert "Helsinki-NLP/opus-mt-fr-en" in line and "offline" in line
    assert "offline" in one_error_line("-m", "Helsinki-NLP/opus-mt-fr-en")


def test_translation_is_composed_not_subclassed(tiny_marian: Path, tiny_en_de: Path) -> None:
    """One protocol; pivoting wraps sentence translators; a glossary belongs to an instance."""
    import inspect

    import toolkit.serve.catalog
    from toolkit.models.registry import Hop, Route
    from toolkit.tasks.translate import EngineTranslator, PivotTranslator, SentenceTranslator, Translator
    from toolkit.text.glossary import Glossary

    assert "glossary" not in vars(Translator) and not issubclass(PivotTranslator, Translator)
    first = Translator.from_pretrained(str(tiny_marian), "fr", "en", backend="torch").sentences
    second = Translator.from_pretrained(str(tiny_en_de), "en", "de", backend="torch").sentences
    assert isinstance(first, EngineTranslator) and isinstance(first, SentenceTranslator)
    hops = [Hop(str(tiny_marian), "fr", "en", "direct"), Hop(str(tiny_en_de), "en", "de", "direct")]
    pivot = PivotTranslator([first, second], Route("fr", "de", "pivot", hops))
    assert isinstance(pivot, SentenceTranslator) and (pivot.source_lang, pivot.target_lang) == ("fr", "de")
    records, _ = pivot.translate_sentences(["Le président est arrivé."])
    assert records[0].via == [first.translate_sentences(["Le président est arrivé."])[0][0].output]
    plain = Translator(pivot)
    termed = plain.with_glossary(Glossary({"président": "Präsident"}))
    assert plain.glossary is None and termed.sentences is pivot
    assert "Präsident" in termed.translate(["Le président est arrivé."])[0]
    assert "hasattr" not in inspect.getsource(toolkit.serve.catalog)  # the server calls the protocol
