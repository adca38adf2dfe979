"""Run folders of the files layout: every output of a run is written to a hidden folder and moved
into place at the end, so an interrupted or failed run never leaves files that look complete. The
lock, checks, marker and manifest frame are the core both layouts share (``run_core``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from toolkit.io.documents import atomic_write_bytes, write_json
from toolkit.io.run_core import (
    MANIFEST,
    MARKER,
    RunFolderError,
    check_replaceable,
    finished_manifest,
    foreign_files,
    is_toolkit_run,
    lock_target,
    released_on_failure,
    remove_stale,
    sha256_file,
    write_marker,
)
from toolkit.io.safe_paths import OutputNames, inside
from toolkit.version import __version__ as toolkit_version

__all__ = ["MANIFEST", "MARKER", "RunFolder", "RunFolderError", "base_manifest", "default_run_dir", "environment"]


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
    repo = Path(__file__).resolve().parents[2]  # toolkit/io/runs.py → the checkout
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

    versions: dict[str, str | None] = {}
    for package in ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2", "sacrebleu", "rouge-score"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
    }


def cpu_model() -> str:
    """The CPU's model name, as reports name the machine a figure was measured on."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SCHEMA_VERSION = 1  # of manifest.json; its JSON Schema ships as toolkit/data/manifest.schema.json


def base_manifest(command: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "toolkit_version": toolkit_version,
        "git_commit": git_commit(),
        "command": command,
        "argv": sys.argv,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
    }


class RunFolder:
    """Collects a run's files in ``.<name>.partial-<pid>`` beside the target and moves them in on
    ``commit``. Use as a context manager: leaving with an exception removes the partial folder.

    Safety rules (README, "Safety"): the target is locked for the whole run; it must be new, an
    empty folder, or — with ``overwrite`` — an earlier toolkit run holding only the files its
    manifest lists; never ``/``, the home or current folder, an input, or a folder holding one.
    The earlier run is moved aside and deleted only once the new one is in place.
    """

    def __init__(self, target: Path, overwrite: bool = False, inputs: Iterable[Path] = (),
                 option: str = "--out") -> None:
        self.option = option
        self.requested = target
        self.overwrite = overwrite
        self.names = OutputNames()
        self.files: list[str] = []
        self.checksums: dict[str, str] = {}
        self._kept = False
        self.target, self._lock = lock_target(target, inputs, option, self._fail)
        self.partial = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"
        with released_on_failure(self._lock, self._fail):
            remove_stale(self.target)
            self.replaces = self._check_existing()
            self._create_partial()

    def _fail(self, why: str) -> RunFolderError:
        return RunFolderError(f"{self.option} {self.requested}: {why}")

    def _check_existing(self) -> bool:
        """True when an earlier run is to be replaced; raises when the target may not be used."""
        return check_replaceable(self.target, self.overwrite, self._fail)

    def _create_partial(self) -> None:
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.partial.mkdir()
            self._mark("partial")
        except OSError as exc:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise self._fail(f"cannot write there ({exc.strerror})") from None
        if self.target.exists() and os.stat(self.target).st_dev != os.stat(self.partial).st_dev:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise self._fail("is on another file system than its parent folder; use a folder inside it")

    def _mark(self, state: str, folder: Path | None = None) -> None:
        write_marker(folder or self.partial, state)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def close(self) -> None:
        """Remove what an unfinished run wrote and release the lock (idempotent)."""
        if not self._kept and self.partial.exists():
            shutil.rmtree(self.partial, ignore_errors=True)
        self._lock.release()

    def path_for(self, doc_id: str, suffix: str, subdir: str = "") -> str:
        """The relative output path of a document: safe, and one-to-one with ids."""
        return self.names.path_for(doc_id, suffix, subdir)

    def write_text(self, relative: str, text: str, newline: str = "\n") -> Path:
        return self.write_bytes(relative, text.replace("\n", newline).encode("utf-8"))

    def write_json(self, relative: str, obj: Any) -> Path:
        """``obj`` as indented JSON, streamed to the file (large results are never one string)."""
        path = inside(self.partial, relative)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                json.dump(obj, handle, ensure_ascii=False, indent=2)
                handle.write("\n")
            checksum = sha256_file(path)
        except OSError as exc:
            raise self._fail(f"cannot write {relative} ({exc.strerror or exc})") from None
        self.files.append(relative)
        self.checksums[relative] = checksum
        return self.target / relative

    def write_bytes(self, relative: str, data: bytes) -> Path:
        import hashlib

        try:
            atomic_write_bytes(inside(self.partial, relative), data)
        except OSError as exc:  # disk full, quota, a file system that refuses the name
            raise self._fail(f"cannot write {relative} ({exc.strerror or exc})") from None
        self.files.append(relative)
        self.checksums[relative] = hashlib.sha256(data).hexdigest()
        return self.target / relative

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest last, then move the finished folder into place — re-checking the
        target, which may have changed while the run was working."""
        from toolkit.runtime import raise_if_terminated

        raise_if_terminated()  # a signal swallowed somewhere (an import, a finaliser) still stops the run
        manifest = finished_manifest(manifest, self.checksums)
        try:
            write_json(self.partial / MANIFEST, manifest)
            # From here on the manifest identifies the folder as a finished toolkit run.
            (self.partial / MARKER).unlink()
        except OSError as exc:
            self.close()
            raise self._fail(f"cannot write the manifest ({exc.strerror or exc})") from None
        target = self.target
        try:
            if self.replaces and target.is_dir() and is_toolkit_run(target) and not foreign_files(target):
                trash = target.parent / f".{target.name}.old-{os.getpid()}"
                self._mark("old", target)
                os.rename(target, trash)
                try:
                    os.rename(self.partial, target)
                except OSError:
                    os.rename(trash, target)  # put the earlier run back as it was
                    (target / MARKER).unlink(missing_ok=True)
                    raise
                shutil.rmtree(trash, ignore_errors=True)
            else:
                # rename() onto an existing folder succeeds only while it is empty: files that
                # appeared during the run are never replaced.
                os.rename(self.partial, target)
        except OSError as exc:
            self._kept = True
            raise self._fail(f"changed while the run was working ({exc.strerror}); nothing there was touched, and "
                             f"the finished run is in {self.partial}") from None
        finally:
            self.close()
        return target
