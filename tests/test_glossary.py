"""Glossary (--glossary) and kept (--keep) terms reach the output whatever the model emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ConfigError
from toolkit.text.glossary import Glossary, load_glossary
from toolkit.text.protect import pieces, restore


def test_terms_become_placeholders_restored_as_targets() -> None:
    glossary = Glossary({"président": "president", "Vladimir Poutine": "Vladimir Putin", "Kremlin": "Kremlin"})
    text = "Président, le président russe Vladimir Poutine voit https://kremlin.ru au Kremlin."
    url = text.index("https"), text.index(" au")
    parts = pieces(text, [url])
    placed, applied = glossary.apply(parts)
    assert applied == {"président": 2, "Vladimir Poutine": 1, "Kremlin": 1}  # "kremlin" in the URL is protected
    outputs = ["X" for part in placed if part.translatable]
    assert restore(placed, outputs)[0] == "President, X president X Vladimir Putin X https://kremlin.ru X Kremlin."
    assert glossary.apply(pieces("présidentielle, vice-président", []))[1] == {"président": 1}  # whole words only


def test_loading_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "terms.tsv"
    path.write_text("# comment\n\nPoutine\tPutin\nKremlin\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"terms.tsv:4: expected"):
        load_glossary(path)
    path.write_text("Poutine\tPutin\nPoutine\tPoutine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="two targets"):
        load_glossary(path)
    assert load_glossary(None, []) is None
    assert load_glossary(None, ["AFP"]).entries == {"AFP": "AFP"}


def occurrences(term: str, text: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(term)}(?!\w)", text))


def test_cli_glossary_and_keep_with_a_random_model(tiny_marian: Path, tmp_path: Path) -> None:
    terms = {"Poutine": "Putin", "Kazakhstan": "Kazakhstan (KZ)", "président": "president", "Moscou": "Moscow"}
    (tmp_path / "terms.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in terms.items()), encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["translate", *map(str, SEED_FILES), "-m", str(tiny_marian), "--src", "fr",
                                      "--glossary", str(tmp_path / "terms.tsv"), "--keep", "Tokaïev",
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    total = 0
    for path, entry in zip(SEED_FILES, manifest["documents"]):
        source = path.read_text(encoding="utf-8")
        output = (out / entry["output_file"]).read_text(encoding="utf-8")
        expected = {term: occurrences(term, source) + occurrences(term[0].upper() + term[1:], source) * term[0].islower()
                    for term in [*terms, "Tokaïev"]}
        assert entry["glossary"]["per_term"] == {t: n for t, n in expected.items() if n}
        for term, count in expected.items():
            target = terms.get(term, term)
            assert output.count(target) + output.count(target[0].upper() + target[1:]) * term[0].islower() >= count
        assert "Poutine" not in output and "Moscou" not in output
        assert sum(s["glossary"] for s in entry["segments"]) == entry["glossary"]["applied"]
        total += entry["glossary"]["applied"]
    assert total > 10 and manifest["glossary"]["applied"] == total
    assert manifest["glossary"]["kept"] == ["Tokaïev"] and len(manifest["glossary"]["sha256"]) == 64


def test_cli_glossary_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.tsv").write_text("Poutine Putin\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["translate", str(SEED_FILES[0]), "--glossary", str(tmp_path / "bad.tsv")])
    assert result.exit_code == 2 and "bad.tsv:1: expected" in result.output
    result = CliRunner().invoke(app, ["translate", str(SEED_FILES[0]), "--glossary", str(tmp_path / "none.tsv")])
    assert result.exit_code == 2 and "none.tsv" in result.output


def test_pipeline_applies_the_glossary(tiny_marian: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from toolkit.cli import app

    terms = tmp_path / "terms.tsv"
    terms.write_text("Kremlin\tKREMLIN-EN\n", encoding="utf-8")
    article = tmp_path / "a.txt"
    article.write_text("Le Kremlin a publié un communiqué. Le Kremlin a ajouté une phrase.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pipeline", str(article), "--translator", str(tiny_marian), "--src", "fr",
                                      "--summarizer", "lead-1", "--glossary", str(terms), "--out",
                                      str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    translation = (tmp_path / "run" / "translations" / "a.txt").read_text(encoding="utf-8")
    assert translation.count("KREMLIN-EN") >= 2
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"][0]["glossary"]["applied_per_term"] == {"Kremlin": 2}
