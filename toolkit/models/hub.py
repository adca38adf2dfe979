"""Model references: a Hugging Face Hub id or a local directory, resolved to files on disk.

Hub models live in the standard Hugging Face cache. Offline (``HF_HUB_OFFLINE=1``, or no network)
and not cached is a ModelError that names the model and the fix, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ModelError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# What a seq2seq checkpoint needs; skips duplicate weight formats (flax, tf, onnx, rust).
_BIN_PATTERN = "pytorch_model*.bin"  # fetched only when a repository has no safetensors weights
# COMET checkpoints (Unbabel/wmt22-comet-da) are hparams.yaml + checkpoints/model.ckpt.
_DOWNLOAD_PATTERNS = ["*.json", "*.model", "*.spm", "*.txt", "*.safetensors", "*.tiktoken", "spiece.*", "vocab.*",
                      "hparams.yaml", "checkpoints/model.ckpt"]


@dataclass(frozen=True)
class ModelRef:
    """A model resolved to a directory, with what identifies its exact content."""

    reference: str
    source: str  # "hub" | "local"
    path: Path
    revision: str | None = None  # hub commit hash
    content_hash: str | None = None  # sha256 of a local directory's files

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "source": self.source,
            "path": str(self.path),
            "revision": self.revision,
            "content_hash": self.content_hash,
        }

    @property
    def identity(self) -> str:
        """A string that changes whenever the model's files do (for caches)."""
        return f"{self.reference}@{self.revision or self.content_hash}"


def hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def directory_hash(path: Path) -> str:
    """sha256 over the relative names and bytes of every file under ``path``.

    Hashing gigabytes of weights on every run would cost seconds, so the result is remembered in
    ``$TOOLKIT_CACHE/hashes/`` against the files' names, sizes and modification times."""
    from toolkit.config import toolkit_cache

    files = sorted(p for p in path.rglob("*") if p.is_file())
    stamp = hashlib.sha256(json.dumps([[f.relative_to(path).as_posix(), f.stat().st_size, f.stat().st_mtime_ns]
                                       for f in files]).encode()).hexdigest()
    memo = toolkit_cache() / "hashes" / f"{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]}.json"
    try:
        saved = json.loads(memo.read_text())
        if saved.get("stamp") == stamp:
            return str(saved["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    value = _hash_files(path, files)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"path": str(path.resolve()), "stamp": stamp, "sha256": value}))
    except OSError:
        pass  # a read-only cache only costs the time to hash again
    return value


def _hash_files(path: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def looks_like_path(reference: str) -> bool:
    # A hub id has at most one slash ("org/name"); anything else path-shaped is meant as a folder.
    return reference.startswith((".", "/", "~")) or reference.count("/") > 1 or reference.endswith("/")


def is_hub_id(reference: str) -> bool:
    """Whether ``reference`` can name a Hugging Face model (``org/name`` or ``name``), not a folder."""
    return not looks_like_path(reference) and bool(_HUB_ID.match(reference))


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, by huggingface_hub's own rules (HF_HUB_CACHE, else the legacy
    HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub), read
    without importing huggingface_hub."""
    home = os.path.expandvars(os.path.expanduser(os.getenv(
        "HF_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "huggingface"))))
    legacy = os.getenv("HUGGINGFACE_HUB_CACHE", os.path.join(home, "hub"))
    return Path(os.path.expandvars(os.path.expanduser(os.getenv("HF_HUB_CACHE", legacy))))


def _plainly_cached(repo_id: str, revision: str | None) -> Path | None:
    """The snapshot folder huggingface_hub's offline ``snapshot_download`` returns, found by reading
    the cache's layout (refs/<revision> → snapshots/<commit>) instead: importing huggingface_hub
    costs 0.2-0.3 s of every run (more on a loaded machine). Only where that function would
    certainly return the same folder: it exists and its tree listing (trees/<commit>.json, if
    any) names no missing file. None: ask huggingface_hub."""
    storage = hub_cache_dir() / "--".join(["models", *repo_id.split("/")])
    revision = revision or "main"
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        commit = revision
    else:
        try:
            commit = (storage / "refs" / revision).read_text()  # as huggingface_hub reads it: no strip
        except (OSError, ValueError):
            return None
    folder = storage / "snapshots" / commit
    if not commit or not folder.is_dir():
        return None
    listing = storage / "trees" / f"{commit}.json"
    if listing.exists():
        try:
            data = json.loads(listing.read_text(encoding="utf-8"))
            files = data["files"] if data.get("format_version") == 1 else {}
            if any(not (folder / name).is_file() for name in needed_files(files)):
                return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
    return folder


def needed_files(names: Iterable[str]) -> list[str]:
    """The files of a repository's listing that ``download`` fetches (and a run needs): a snapshot
    missing the others (Flax, TF, ONNX weights) is complete for the toolkit."""
    from fnmatch import fnmatch

    names = list(names)
    patterns = [*_DOWNLOAD_PATTERNS, *([] if any(n.endswith(".safetensors") for n in names) else [_BIN_PATTERN])]
    return [name for name in names if any(fnmatch(name, pattern) for pattern in patterns)]


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The cached snapshot folder of a hub model, or None when it is not in the local cache."""
    found = _plainly_cached(repo_id, revision)
    if found is not None:
        return found
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # Only the files `download` fetches: huggingface_hub otherwise calls a snapshot incomplete
        # when the repository also holds files we never download.
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True,
                                      allow_patterns=[*_DOWNLOAD_PATTERNS, _BIN_PATTERN]))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def _not_available(reference: str, why: str) -> ModelError:
    return ModelError(
        f"model '{reference}' is not in the local Hugging Face cache and {why}: "
        f"run `toolkit models download {reference}` where there is network, or pass a local model directory"
    )


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a failed connection to the Hub raises: OS errors, the Hub's own HTTP errors, and the
    HTTP client's (huggingface_hub has used requests, httpx and httpx2 over its versions)."""
    from importlib import import_module

    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    errors: list[type[BaseException]] = [OSError, HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def download(repo_id: str, revision: str | None = None) -> Path:
    """Fetch a hub model into the standard cache (only the files a seq2seq checkpoint needs)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        files = {s.rfilename for s in HfApi().model_info(repo_id, revision=revision).siblings or []}
        patterns = list(_DOWNLOAD_PATTERNS)
        if not any(f.endswith(".safetensors") for f in files):
            patterns.append(_BIN_PATTERN)
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except GatedRepoError:
        raise ModelError(f"model '{repo_id}' is gated: accept its licence on the Hub and log in (`hf auth login`)") from None
    except RepositoryNotFoundError:
        raise ModelError(f"unknown model '{repo_id}': no such model on the Hugging Face Hub and no such local directory") from None
    except RevisionNotFoundError:
        raise ModelError(f"model '{repo_id}' has no revision '{revision}'") from None
    except _network_errors() as exc:
        raise ModelError(
            f"model '{repo_id}' is not in the local Hugging Face cache and the Hub cannot be reached "
            f"({type(exc).__name__}): connect to the network (then `toolkit models download {repo_id}` caches it "
            "for offline use), or pass a local model directory"
        ) from None


def resolve_model(reference: str, revision: str | None = None, allow_download: bool = True) -> ModelRef:
    """Resolve a hub id or local directory to a ModelRef, downloading into the cache if allowed."""
    path = Path(reference).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{reference}: not a model directory (no config.json)")
        return ModelRef(reference, "local", path.resolve(), content_hash=directory_hash(path))
    if path.exists():
        raise ModelError(f"{reference}: is a file, expected a model directory or a Hugging Face model id")
    if not is_hub_id(reference):
        raise ModelError(f"unknown model '{reference}': no such local directory, and not a Hugging Face model id")
    snapshot = cached_snapshot(reference, revision)
    if snapshot is None:
        if hub_offline():
            raise _not_available(reference, "offline mode is on (HF_HUB_OFFLINE=1)")
        if not allow_download:
            raise _not_available(reference, "downloading was not allowed")
        snapshot = download(reference, revision)
    return ModelRef(reference, "hub", snapshot, revision=snapshot.name)


def model_size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load_seq2seq_model(ref: ModelRef, device: str = "cpu", dtype: str = "float32",
                       attention: str | None = None) -> Any:
    """Load the PyTorch model with ``from_pretrained`` from a resolved reference, in eval mode.
    ``attention`` is transformers' ``attn_implementation`` (None: its default)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    extra = {"attn_implementation": attention} if attention else {}
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(ref.path, dtype=getattr(torch, dtype), **extra)
    except (OSError, ValueError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model '{ref.reference}' as a seq2seq model: {first_line}") from None
    model.to(device)
    model.eval()
    return model


def cached_models() -> list[dict[str, Any]]:
    """Every model repository in the local Hugging Face cache."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir()
    except CacheNotFound:
        return []
    return [
        {"model": repo.repo_id, "revisions": sorted(r.commit_hash for r in repo.revisions),
         "size_bytes": repo.size_on_disk, "path": str(repo.repo_path)}
        for repo in sorted(info.repos, key=lambda r: r.repo_id) if repo.repo_type == "model"
    ]


def model_info(reference: str) -> dict[str, Any]:
    """What a cached or local model is, without loading its weights."""
    ref = resolve_model(reference, allow_download=False)
    config = json.loads((ref.path / "config.json").read_text())
    generation_file = ref.path / "generation_config.json"
    generation = json.loads(generation_file.read_text()) if generation_file.is_file() else {}
    tokenizer_file = ref.path / "tokenizer_config.json"
    tokenizer = json.loads(tokenizer_file.read_text()) if tokenizer_file.is_file() else {}
    languages = {k: tokenizer[k] for k in ("source_lang", "target_lang", "src_lang", "tgt_lang") if tokenizer.get(k)}
    keys = ("num_beams", "max_length", "min_length", "length_penalty", "no_repeat_ngram_size", "early_stopping",
            "forced_bos_token_id", "forced_eos_token_id")
    return {
        "model": ref.reference, "source": ref.source, "path": str(ref.path), "revision": ref.revision,
        "architecture": (config.get("architectures") or [config.get("model_type")])[0],
        "model_type": config.get("model_type"),
        "dimensions": {k: config[k] for k in ("d_model", "encoder_layers", "decoder_layers", "num_layers",
                                                "encoder_attention_heads", "num_heads", "vocab_size",
                                                "max_position_embeddings") if k in config},
        "size_mb": round(model_size_bytes(ref.path) / 1e6, 1),
        "languages": languages,
        "task_specific_params": config.get("task_specific_params") or {},
        "generation_defaults": {k: generation.get(k, config.get(k)) for k in keys if generation.get(k, config.get(k)) is not None},
    }
