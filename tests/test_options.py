"""Options resolved once (issue #24.3): defaults plus overrides in one resolver, choices and limits
defined once, library errors name the option field and only the CLI spells it as a flag."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.errors import OptionError, ToolkitError
from toolkit.options import EngineOptions, GenerationOptions


def _defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "defaults.yaml"
    path.write_text("translation:\n  backend: torch\n  batch_size: 7\n  max_batch_tokens: 999\n"
                    "summarization:\n  backend: ct2\n  batch_size: 3\n", encoding="utf-8")
    monkeypatch.setenv("TOOLKIT_DEFAULTS", str(path))


def test_the_resolver_fills_what_was_not_given_from_the_configured_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.config import resolve_engine

    _defaults(tmp_path, monkeypatch)
    assert resolve_engine("translation") == EngineOptions(backend="torch", batch_size=7, max_batch_tokens=999)
    assert resolve_engine("summarization") == EngineOptions(backend="ct2", batch_size=3, max_batch_tokens=16384)
    given = EngineOptions(backend="ct2", threads=2)
    assert resolve_engine("translation", given) == EngineOptions(backend="ct2", threads=2, batch_size=7,
                                                                 max_batch_tokens=999)
    # A value given explicitly wins even where it equals the model's default ("auto").
    assert resolve_engine("summarization", EngineOptions(backend="auto")).backend == "auto"
    # replace() keeps unset fields unset, so the defaults still fill them afterwards.
    assert resolve_engine("translation", given.replace(batch_size=5)) == EngineOptions(
        backend="ct2", threads=2, batch_size=5, max_batch_tokens=999)


def test_the_cli_and_the_server_use_the_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.cli.common import engine_options
    from toolkit.serve.settings import ServeSettings

    _defaults(tmp_path, monkeypatch)
    assert engine_options("translation", "cpu", None, None, 0) == EngineOptions(
        backend="torch", device="cpu", batch_size=7, max_batch_tokens=999)
    assert engine_options("summarization", "auto", "torch", None, 0, batch_size=9).batch_size == 9
    settings = ServeSettings(engine=EngineOptions(quantization="int8"), generation=GenerationOptions(num_beams=2))
    assert isinstance(settings.engine, EngineOptions) and isinstance(settings.generation, GenerationOptions)


def test_limits_and_choices_are_defined_once() -> None:
    from typing import get_args

    from toolkit.config import TranslationDefaults
    from toolkit.limits import LIMITS, Backend, bounds

    for field, (low, high) in LIMITS.items():
        model = GenerationOptions if field in GenerationOptions.model_fields else EngineOptions
        if field not in model.model_fields:
            continue
        if low is not None:
            with pytest.raises(OptionError):
                model(**{field: low - 1})
            model(**{field: low})
        if high is not None:
            with pytest.raises(OptionError):
                model(**{field: high + 1})
    assert bounds("num_beams") == {"min": 1, "max": 256} and bounds("max_batch_tokens") == {"min": 16}
    assert get_args(TranslationDefaults.model_fields["backend"].annotation) == get_args(Backend)


def test_library_errors_name_the_field_not_a_cli_flag() -> None:
    # The server's /summarize max_length=10**30 used to answer with the CLI's `--max-length`.
    with pytest.raises(OptionError) as caught:
        GenerationOptions(max_length=10**30)
    assert caught.value.field == "max_length" and str(caught.value).startswith("max_length: ")
    assert "--" not in str(caught.value)
    with pytest.raises(ToolkitError, match="^threads: "):
        EngineOptions(threads=-1)


def test_the_cli_spells_the_field_as_its_flag() -> None:
    from toolkit.cli.output import error_line

    assert error_line(OptionError("max_length", "too large")) == "--max-length: too large"
    assert error_line(OptionError("num_beams", "too small")) == "--beams: too small"
    assert error_line(ToolkitError("plain")) == "plain"


def test_a_defaults_file_with_a_bad_batch_size_names_the_cli_flag(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolver's error reaches the CLI as an OptionError and is rendered with the flag.
    from toolkit.cli import app

    path = tmp_path / "defaults.yaml"
    path.write_text("translation:\n  batch_size: 100000\n", encoding="utf-8")
    monkeypatch.setenv("TOOLKIT_DEFAULTS", str(path))
    (tmp_path / "a.txt").write_text("Bonjour.", encoding="utf-8")
    result = CliRunner().invoke(app, ["translate", str(tmp_path / "a.txt"), "--src", "fr", "--tgt", "en",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "toolkit: error: --batch-size: Input should be less than or equal to 65536"


def test_the_server_refuses_an_out_of_range_length_naming_the_field(tiny_bart: Path) -> None:
    # Issue #27: max_length=10**30 on /summarize was a 500 whose message named `--max-length`.
    from fastapi.testclient import TestClient

    from toolkit.serve.app import create_app
    from toolkit.serve.settings import ServeSettings

    settings = ServeSettings(translators={}, summarizers={"en": str(tiny_bart)})
    with TestClient(create_app(settings)) as client:
        response = client.post("/summarize", json={"q": "A text.", "lang": "en", "max_length": 10**30})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "max_length" in error and "--" not in error, error
