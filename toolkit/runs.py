"""Run folders: every output of a run is written to a hidden folder and moved into place at the end,
so an interrupted or failed run never leaves files that look complete."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import toolkit
from toolkit.documents import atomic_write_text, write_json
from toolkit.errors import ToolkitError

MANIFEST = "manifest.json"


def default_run_dir(command: str, root: Path = Path("outputs")) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{command}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{command}-{stamp}-{n}"
    return path


def git_commit() -> str | None:
    """The commit of the toolkit's own checkout, when it runs from one."""
    repo = Path(toolkit.__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions and machine facts that a result depends on."""
    from importlib import metadata

    versions = {}
    for package in ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2", "sacrebleu", "rouge-score"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def base_manifest(command: str) -> dict[str, Any]:
    return {
        "toolkit_version": toolkit.__version__,
        "git_commit": git_commit(),
        "command": command,
        "argv": sys.argv,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
    }


class RunFolder:
    """Collects a run's files in ``.<name>.partial-<pid>`` beside the target and moves them in on
    ``commit``. Use as a context manager: leaving with an exception removes the partial folder."""

    def __init__(self, target: Path, overwrite: bool = False) -> None:
        self.target = target
        self.overwrite = overwrite
        if target.exists() and not target.is_dir():
            raise ToolkitError(f"--out {target}: exists and is not a folder")
        if target.is_dir() and any(target.iterdir()) and not overwrite:
            raise ToolkitError(f"--out {target}: folder exists and is not empty (pass --overwrite to replace it)")
        self.partial = target.parent / f".{target.name}.partial-{os.getpid()}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.partial.exists():
                shutil.rmtree(self.partial)
            self.partial.mkdir()
        except OSError as exc:
            raise ToolkitError(f"--out {target}: cannot write there ({exc.strerror})") from None
        self.files: list[str] = []

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.partial.exists():
            shutil.rmtree(self.partial, ignore_errors=True)

    def write_text(self, relative: str, text: str, newline: str = "\n") -> Path:
        path = self.partial / relative
        atomic_write_text(path, text, newline)
        self.files.append(relative)
        return self.target / relative

    def write_bytes(self, relative: str, data: bytes) -> Path:
        from toolkit.documents import atomic_write_bytes

        atomic_write_bytes(self.partial / relative, data)
        self.files.append(relative)
        return self.target / relative

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest last, then move the finished folder into place."""
        manifest = {**manifest, "files": sorted(self.files)}
        write_json(self.partial / MANIFEST, manifest)
        if self.target.exists():
            trash = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
            os.replace(self.target, trash)
            os.replace(self.partial, self.target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(self.partial, self.target)
        return self.target
