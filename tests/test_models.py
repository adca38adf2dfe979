"""Model references: hub ids vs folders, the download plan, and the errors users see (no network)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ModelError
from toolkit.models.hub import download, looks_like_path, resolve_model

runner = CliRunner()


@pytest.mark.parametrize("reference, is_path", [("Helsinki-NLP/opus-mt-fr-en", False), ("t5-small", False),
                                                ("./models/x", True), ("/abs/model", True), ("a/b/c", True),
                                                ("~/m", True), ("org/name/", True)])
def test_paths_and_hub_ids(reference: str, is_path: bool) -> None:
    assert looks_like_path(reference) is is_path


def fake_hub(monkeypatch: pytest.MonkeyPatch, files: list[str], error: Exception | None = None) -> dict:
    import huggingface_hub

    seen: dict = {}

    class Api:
        def model_info(self, repo_id, revision=None):
            if error is not None:
                raise error
            return SimpleNamespace(siblings=[SimpleNamespace(rfilename=f) for f in files])

    def snapshot(repo_id, revision=None, allow_patterns=None, **kwargs):
        seen["patterns"] = allow_patterns
        return f"/cache/models--{repo_id.replace('/', '--')}/snapshots/abc123"

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    return seen


def test_download_prefers_safetensors(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_hub(monkeypatch, ["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5"])
    path = download("org/model")
    assert path.name == "abc123"
    assert "*.safetensors" in seen["patterns"] and "pytorch_model*.bin" not in seen["patterns"]
    assert not any("h5" in p or "msgpack" in p for p in seen["patterns"])
    seen = fake_hub(monkeypatch, ["config.json", "pytorch_model.bin", "source.spm"])
    download("org/model")
    assert "pytorch_model*.bin" in seen["patterns"]


def test_download_errors_are_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError

    response = SimpleNamespace(status_code=404, headers={}, request=None)
    fake_hub(monkeypatch, [], RepositoryNotFoundError("not found", response=response))
    with pytest.raises(ModelError, match="unknown model 'org/missing': no such model on the Hugging Face Hub"):
        download("org/missing")
    fake_hub(monkeypatch, [], ConnectionError("no route"))
    with pytest.raises(ModelError, match="the Hub cannot be reached \\(ConnectionError\\)"):
        download("org/model")


def test_models_download_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, ["config.json", "model.safetensors"])
    result = runner.invoke(app, ["models", "download", "org/a", "org/b"])
    assert result.exit_code == 0, result.output
    assert "org/a: cached at /cache/models--org--a/snapshots/abc123" in result.stderr


def test_resolve_model_errors(tmp_path: Path) -> None:
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file, expected a model directory"):
        resolve_model(str(tmp_path / "file.bin"))
    with pytest.raises(ModelError, match="offline mode is on"):
        resolve_model("org/not-cached")
