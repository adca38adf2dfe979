"""Runs only where the real Helsinki-NLP/opus-mt-fr-en is in the local Hugging Face cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEED_FILES
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.models.hub import cached_snapshot

MODEL = "Helsinki-NLP/opus-mt-fr-en"


@pytest.mark.real_model
def test_real_opus_mt_translates_a_seed(tmp_path: Path) -> None:
    if cached_snapshot(MODEL) is None:
        pytest.skip(f"{MODEL} is not in the local Hugging Face cache (run `toolkit models download {MODEL}` to enable)")
    result = CliRunner().invoke(app, ["translate", str(SEED_FILES[1]), "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 0, result.output
    english = (tmp_path / "o" / f"{SEED_FILES[1].stem}.txt").read_text()
    assert "Putin" in english and "Kazakh" in english
