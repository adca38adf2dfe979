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


COMMIT = "0123456789abcdef0123456789abcdef01234567"
# What `toolkit models download` fetches (toolkit.models.hub.download).
DOWNLOADED = ["*.json", "*.model", "*.spm", "*.txt", "*.safetensors", "*.tiktoken", "spiece.*", "vocab.*",
              "hparams.yaml", "checkpoints/model.ckpt", "pytorch_model*.bin"]


def _hub_snapshot(cache: Path, files: tuple[str, ...] = ("config.json",), ref: str | None = COMMIT,
                  listing: list[str] | None = None) -> Path:
    storage = cache / "models--org--name"
    snapshot = storage / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")
    if ref is not None:
        (storage / "refs").mkdir()
        (storage / "refs" / "main").write_text(ref)
    if listing is not None:
        import json

        (storage / "trees").mkdir()
        (storage / "trees" / f"{COMMIT}.json").write_text(json.dumps(
            {"format_version": 1, "files": {name: {"size": 2, "blob_id": "b"} for name in listing}}))
    return snapshot


@pytest.mark.parametrize("layout", [
    {}, {"ref": None}, {"ref": COMMIT + "\n"}, {"ref": "f" * 40}, {"listing": ["config.json"]},
    {"listing": ["config.json", "model.safetensors"]}, {"revision": COMMIT}, {"revision": "v1"},
    {"listing": ["config.json", "tf_model.h5", "flax_model.msgpack"]},
], ids=["main", "no-ref", "ref-with-newline", "ref-elsewhere", "complete-listing", "incomplete-listing", "commit",
        "unknown-branch", "files-never-downloaded"])
def test_cached_snapshots_are_found_as_huggingface_hub_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  layout: dict) -> None:
    """Read from the cache's layout without importing huggingface_hub, and only where its offline
    snapshot_download returns the same folder (else it is asked)."""
    from huggingface_hub import snapshot_download

    from toolkit.models.hub import _BIN_PATTERN, _DOWNLOAD_PATTERNS, _plainly_cached, cached_snapshot

    assert [*_DOWNLOAD_PATTERNS, _BIN_PATTERN] == DOWNLOADED

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # for the toolkit (huggingface_hub read it on import)
    _hub_snapshot(tmp_path, ref=layout.get("ref", COMMIT), listing=layout.get("listing"))
    try:
        expected: Path | None = Path(snapshot_download("org/name", revision=layout.get("revision"), cache_dir=tmp_path,
                                                       local_files_only=True, allow_patterns=DOWNLOADED))
    except Exception:  # LocalEntryNotFoundError, IncompleteSnapshotError, ...
        expected = None
    found = _plainly_cached("org/name", layout.get("revision"))
    assert found is None or found == expected
    assert cached_snapshot("org/name", layout.get("revision")) == expected
    if layout in ({}, {"listing": ["config.json"]}, {"revision": COMMIT}):
        assert found is not None  # the common cases need no huggingface_hub
    if "tf_model.h5" in layout.get("listing", []):
        # `toolkit models download` fetches only what a run needs: such a snapshot is complete.
        assert found is not None and found == expected


@pytest.mark.parametrize("env", [{}, {"HF_HOME": "~/hf-home"}, {"XDG_CACHE_HOME": "/x/cache"},
                                 {"HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/home-hf"},
                                 {"HF_HUB_CACHE": "$HOME/hub", "HUGGINGFACE_HUB_CACHE": "/legacy"}])
def test_hub_cache_folder_follows_huggingface_hub_rules(env: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if k not in ("HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")}
    probe = ("from huggingface_hub import constants\nfrom toolkit.models.hub import hub_cache_dir\n"
             "print(constants.HF_HUB_CACHE)\nprint(hub_cache_dir())\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**clean, **env}, check=False)
    assert proc.returncode == 0, proc.stderr
    theirs, ours = proc.stdout.splitlines()
    assert Path(theirs) == Path(ours)
