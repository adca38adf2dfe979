"""Language detection, model resolution, pivoting, target tokens and language codes (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GERMAN, SEED_FILES, SEEDS, seed_texts
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ToolkitError
from toolkit.models.random import ENGLISH_SAMPLE
from toolkit.models.registry import Registry, load_registry, resolve_route
from toolkit.options import EngineOptions, GenerationOptions
from toolkit.text.detect import detect, identify
from toolkit.text.languages import normalize_language

runner = CliRunner()


@pytest.mark.parametrize("text, lang", [
    ("The Russian president congratulated his Kazakh counterpart on Monday.", "en"),
    ("Der russische Präsident gratulierte seinem kasachischen Amtskollegen.", "de"),
    ("El presidente ruso felicitó a su homólogo kazajo el lunes.", "es"),
    ("Il presidente russo si è congratulato con il suo omologo kazako.", "it"),
    ("Президент России поздравил своего казахского коллегу.", "ru"),
    ("俄罗斯总统周一祝贺哈萨克斯坦总统连任。", "zh"),
])
def test_short_texts(text: str, lang: str) -> None:
    assert identify(text)[0] == lang


def test_seeds_are_french_and_mixed_documents_are_flagged() -> None:
    for text in seed_texts():
        found = detect(text)
        assert found.lang == "fr" and found.confidence > 0.9 and not found.mixed
    mixed = detect("Le président russe a félicité son homologue kazakh pour sa victoire électorale.\n"
                   "The Russian president congratulated his Kazakh counterpart on his election victory.")
    assert mixed.mixed and set(mixed.languages) == {"fr", "en"}
    assert [p["lang"] for p in mixed.paragraphs] == ["fr", "en"]


def test_detect_cli(tmp_path: Path) -> None:
    (tmp_path / "de.txt").write_text(" ".join(GERMAN))
    result = runner.invoke(app, ["detect", str(SEEDS), str(tmp_path / "de.txt"), "--json"])
    assert result.exit_code == 0, result.output
    assert [(r["id"], r["lang"]) for r in json.loads(result.stdout)] == [(p.stem, "fr") for p in SEED_FILES] + [("de", "de")]


@pytest.mark.parametrize("code, expected", [("fr", "fr"), ("FR", "fr"), ("fra", "fr"), ("fre", "fr"), ("fra_Latn", "fr"),
                                            ("zho_Hans", "zh"), ("en-GB", "en"), ("deu", "de"), ("klingon", None)])
def test_language_codes_are_normalised(code: str, expected: str | None) -> None:
    assert normalize_language(code) == expected


def test_resolution_table_of_the_shipped_registry() -> None:
    registry = load_registry()
    table = {}
    for src, tgt in [("fr", "en"), ("de", "fr"), ("en", "tr"), ("en", "pt"), ("fr", "ja"), ("sw", "fi"), ("fra", "eng")]:
        route = resolve_route(src, tgt, registry)
        table[(src, tgt)] = (route.kind, [(h.model, h.source_prefix, h.src_code, h.tgt_code) for h in route.hops])
    assert table[("fr", "en")] == ("direct", [("Helsinki-NLP/opus-mt-fr-en", "", None, None)])
    assert table[("fra", "eng")] == table[("fr", "en")]
    assert table[("de", "fr")] == ("direct", [("Helsinki-NLP/opus-mt-de-fr", "", None, None)])
    assert table[("en", "tr")] == ("multi-target", [("Helsinki-NLP/opus-mt-en-mul", ">>tur<< ", None, None)])
    assert table[("en", "pt")] == ("multi-target", [("Helsinki-NLP/opus-mt-en-ROMANCE", ">>pt<< ", None, None)])
    assert table[("fr", "ja")] == ("many-to-many", [("facebook/nllb-200-distilled-600M", "", "fra_Latn", "jpn_Jpan")])
    assert table[("sw", "fi")] == ("pivot", [("Helsinki-NLP/opus-mt-mul-en", "", None, None),
                                             ("Helsinki-NLP/opus-mt-en-fi", "", None, None)])
    # Without pivoting, the many-to-many model is next in line.
    assert resolve_route("sw", "fi", registry, allow_pivot=False).kind == "many-to-many"
    assert resolve_route("fr", "en", registry, pinned={"fr-en": "Helsinki-NLP/opus-mt-tc-big-fr-en"}).hops[0].model == \
        "Helsinki-NLP/opus-mt-tc-big-fr-en"


def test_resolution_errors() -> None:
    only_direct = Registry.model_validate({"models": [{"id": "a/fr-en", "kind": "direct", "pairs": ["fr-en"]},
                                                      {"id": "a/en-de", "kind": "direct", "pairs": ["en-de"]}]})
    with pytest.raises(ToolkitError, match="unknown language code"):
        resolve_route("xx", "en", only_direct)
    with pytest.raises(ToolkitError, match="same language"):
        resolve_route("fr", "fra", only_direct)
    with pytest.raises(ToolkitError, match="no translation model for fr→ja"):
        resolve_route("fr", "ja", only_direct)
    with pytest.raises(ToolkitError, match="drop --no-pivot"):
        resolve_route("fr", "de", only_direct, allow_pivot=False)
    assert resolve_route("fr", "de", only_direct).kind == "pivot"


def write_registry(path: Path, entries: list[dict]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"pivot": "en", "models": entries}))
    return path


def test_pivot_run_end_to_end(tiny_marian: Path, tiny_en_de: Path, tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.yaml", [
        {"id": str(tiny_marian), "kind": "direct", "pairs": ["fr-en"]},
        {"id": str(tiny_en_de), "kind": "direct", "pairs": ["en-de"]},
    ])
    out = tmp_path / "de"
    result = runner.invoke(app, ["translate", str(SEEDS), "--tgt", "de", "--registry", str(registry), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["route"]["kind"] == "pivot" and [h["tgt"] for h in manifest["route"]["hops"]] == ["en", "de"]
    assert [h["model"]["path"] for h in manifest["hops"]] == [str(tiny_marian), str(tiny_en_de)]
    assert manifest["source_lang_option"] == "auto" and manifest["target_lang"] == "de"
    for path, doc in zip(SEED_FILES, manifest["documents"]):
        assert doc["source_lang"] == "fr" and doc["detection"]["lang"] == "fr"
        assert all(len(s["via"]) == 1 and s["output"] for s in doc["segments"])
        assert (out / doc["output_file"]).read_text().count("\n") == path.read_text().count("\n")
    refused = runner.invoke(app, ["translate", str(SEEDS), "--tgt", "de", "--registry", str(registry), "--no-pivot",
                                  "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "drop --no-pivot" in refused.stderr


def test_multi_target_token_is_inserted(tiny_en_mul: Path, tmp_path: Path) -> None:
    from toolkit.tasks.translate import load_translator

    registry = Registry.model_validate({"models": [
        {"id": str(tiny_en_mul), "kind": "multi-target", "sources": ["en"], "targets": ["de", "fr"], "target_token": ">>{tgt3}<<"}]})
    translator = load_translator(None, "en", "fr", registry, engine=EngineOptions(device="cpu", backend="torch"))
    engine = translator.engine
    assert engine.prefix == ">>fra<< "
    ids = engine.tokenizer(engine.prefix + "The president.")["input_ids"]
    assert ids[0] == engine.tokenizer.convert_tokens_to_ids(">>fra<<")
    assert translator.describe()["route"]["hops"][0]["source_prefix"] == ">>fra<< "
    assert translator.translate(["The president arrived."])[0]
    source = tmp_path / "en.txt"
    source.write_text(" ".join(ENGLISH_SAMPLE[:3]))
    registry_file = write_registry(tmp_path / "r.yaml", [registry.models[0].model_dump()])
    result = runner.invoke(app, ["translate", str(source), "--src", "en", "--tgt", "de", "--registry", str(registry_file),
                                 "--backend", "ct2", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["prefix"] == ">>deu<< " and manifest["backend"] == "ct2"


def test_output_language_check_warns() -> None:
    from toolkit.io.documents import Document
    from toolkit.io.results import DocumentResult
    from toolkit.tasks.translate import DocumentTranslator

    class Untranslated:
        def translate_batch(self, docs, on_batch=None):
            return [DocumentResult(doc.id, doc.source, doc.text, 0.0, 1, 1) for doc in docs]

        def count_sentences(self, doc):
            return 1

    translator = DocumentTranslator("fr", "en", lambda lang: Untranslated())
    doc = Document("d", "Le président russe a félicité son homologue kazakh pour sa victoire.", "d")
    translator.prepare([doc])
    result = translator.translate_document(doc)
    assert result.extra["output_lang"]["lang"] == "fr"
    assert any("looks like fr" in w and "not en" in w for w in result.warnings)


def test_cli_language_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "--src", "xx", "--out", "-"])
    assert result.exit_code == 2 and "--src xx: unknown language code" in result.stderr
    result = runner.invoke(app, ["models", "resolve", "--src", "fr", "--tgt", "zz"])
    assert result.exit_code == 2 and "--tgt zz: unknown language code" in result.stderr
    empty = write_registry(tmp_path / "empty.yaml", [])
    result = runner.invoke(app, ["models", "resolve", "--src", "fr", "--tgt", "de", "--registry", str(empty)])
    assert result.exit_code == 2 and "no translation model for fr→de" in result.stderr
    result = runner.invoke(app, ["translate", str(SEED_FILES[0]), "--tgt", "fr", "--out", "-"])
    assert result.exit_code == 2 and "detected as fr, the target language" in result.stderr


def test_models_resolve_and_info(tiny_marian: Path) -> None:
    result = runner.invoke(app, ["models", "resolve", "--src", "de", "--tgt", "fr", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["kind"] == "direct" and plan["hops"][0]["cached"] is False
    result = runner.invoke(app, ["models", "info", str(tiny_marian), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["architecture"] == "MarianMTModel" and info["languages"] == {"source_lang": "fr", "target_lang": "en"}
    assert info["generation_defaults"]["num_beams"] == 2


def test_summary_in_another_language(tiny_marian: Path, tiny_en_de: Path, tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.yaml", [{"id": str(tiny_en_de), "kind": "direct", "pairs": ["en-de"]}])
    out = tmp_path / "de"
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--translator", str(tiny_marian), "--summarizer", "lead-2",
                                 "--summary-lang", "de", "--registry", str(registry), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(s["stage"], s["folder"]) for s in manifest["stages"]] == [
        ("translate", "translations"), ("summarize", "summaries-en"), ("translate", "summaries")]
    assert manifest["summary_lang"] == "de" and manifest["outputs"] == {"translation": 0, "summarization": 2}
    assert manifest["stages"][2]["target_lang"] == "de"
    # In the source language: the French article itself is summarised (lead-2 keeps its sentences).
    out = tmp_path / "fr"
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--translator", str(tiny_marian), "--summarizer", "lead-2",
                                 "--summary-lang", "fr", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"][1]["lang"] == "fr" and manifest["summary_lang"] == "fr"
    summary = (out / "summaries" / f"{SEED_FILES[0].stem}.txt").read_text()
    assert summary.startswith("Moscou - Le président russe Vladimir Poutine")
    result = runner.invoke(app, ["pipeline", str(SEEDS), "--translator", str(tiny_marian), "--summarizer", "lead-2",
                                 "--order", "summarize-first", "--summary-lang", "fr", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "translates nothing" in result.stderr


def test_many_to_many_language_codes_and_backend_parity(tmp_path: Path) -> None:
    from toolkit.models.random import build_nllb
    from toolkit.models.registry import hop_for_model
    from toolkit.tasks.translate import load_translator

    model = build_nllb(tmp_path / "tiny-nllb", seed_texts())
    registry = Registry.model_validate({"models": [
        {"id": str(model), "kind": "many-to-many", "codes": "nllb", "languages": ["fr", "en", "de"]}]})
    outputs = []
    for backend, quantization in (("torch", None), ("ct2", "float32")):
        translator = load_translator(None, "fr", "de", registry,
                                     engine=EngineOptions(device="cpu", backend=backend, quantization=quantization),
                                     generation=GenerationOptions(num_beams=1))
        engine = translator.engine
        tokenizer = engine.tokenizer
        assert engine.tokenizer("Bonjour.")["input_ids"][0] == tokenizer.convert_tokens_to_ids("fra_Latn")
        assert translator.hop.tgt_code == "deu_Latn" and translator.describe()["route"]["kind"] == "many-to-many"
        if backend == "torch":
            assert engine.settings["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids("deu_Latn")
        else:
            assert engine.target_prefix == ["deu_Latn"]
        outputs.append(translator.translate(SEED_FILES[0].read_text().split("\n")[:4]))
    assert outputs[0] == outputs[1]
    # --model naming a registry entry gets the same codes.
    assert hop_for_model(str(model), "fr", "en", registry).src_code == "fra_Latn"
    assert hop_for_model("some/other-model", "fr", "en", registry).kind == "explicit"


def test_summary_language_resolves_a_translator_through_the_registry(tmp_path: Path) -> None:
    result = runner.invoke(app, ["summarize", str(SEED_FILES[0]), "-m", "lead-2", "--lang", "fr", "--summary-lang", "en",
                                 "--out", str(tmp_path / "o")])
    # fr→en resolves to opus-mt-fr-en, which is not cached in this offline test session.
    assert result.exit_code == 2 and "model 'Helsinki-NLP/opus-mt-fr-en' is not in the local" in result.stderr
    assert not (tmp_path / "o").exists()


def test_summarize_summary_language_end_to_end(tiny_marian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.config import Defaults, TranslationDefaults

    defaults = Defaults(translation=TranslationDefaults(models={"fr-en": str(tiny_marian)}))
    monkeypatch.setattr("toolkit.config.load_defaults", lambda path=None: defaults)
    out = tmp_path / "o"
    result = runner.invoke(app, ["summarize", str(SEED_FILES[0]), "-m", "lead-2", "--lang", "fr", "--summary-lang", "en",
                                 "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary_lang"] == "en" and manifest["summary_translation"]["model"]["path"] == str(tiny_marian)
    entry = manifest["documents"][0]
    assert entry["summary_in_source_language"].startswith("Moscou - Le président")
    assert (out / entry["output_file"]).read_text() != entry["summary_in_source_language"]


def test_declared_language_of_a_jsonl_record_beats_detection(tiny_marian: Path, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Agence France-Presse", "lang": "fra"}) + "\n")
    result = runner.invoke(app, ["translate", str(source), "-m", str(tiny_marian), "--src", "auto", "--out",
                                 str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    entry = json.loads((tmp_path / "o" / "details" / "part-00000.jsonl").read_text())
    assert entry["source_lang"] == "fr" and "detection" not in entry
    assert json.loads((tmp_path / "o" / "part-00000.jsonl").read_text())["source_lang"] == "fr"
