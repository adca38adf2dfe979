"""Run folders: every output of a run is written to a hidden folder and moved into place at the end,
so an interrupted or failed run never leaves files that look complete."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

import toolkit
from toolkit.documents import atomic_write_bytes, atomic_write_text, write_json
from toolkit.errors import ToolkitError
from toolkit.safe_paths import OutputNames, inside

MANIFEST = "manifest.json"
# Unfinished and set-aside run folders carry this file, finished ones their manifest: only such
# folders are ever replaced or removed.
MARKER = ".toolkit-run"


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


SCHEMA_VERSION = 1  # of manifest.json; its JSON Schema ships as toolkit/data/manifest.schema.json


def base_manifest(command: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "toolkit_version": toolkit.__version__,
        "git_commit": git_commit(),
        "command": command,
        "argv": sys.argv,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
    }


class RunFolderError(ToolkitError):
    """A run folder that cannot be used safely."""


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_toolkit_run(folder: Path) -> bool:
    """A finished run: it has the manifest the toolkit writes last."""
    manifest = _read_json(folder / MANIFEST)
    return isinstance(manifest, dict) and "toolkit_version" in manifest and "files" in manifest


def _foreign_files(run: Path) -> list[str]:
    """Files in a previous run that its manifest does not list: someone else's, never to be
    deleted. A run nested in it (`evaluate --out RUN/scores`) counts as the toolkit's own."""
    manifest = _read_json(run / MANIFEST)
    listed = set(manifest.get("files", [])) if isinstance(manifest, dict) else set()
    listed |= {MANIFEST, MARKER}
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for path in sorted(folder.iterdir()):
            relative = prefix + path.name
            if path.is_dir() and not path.is_symlink():
                if _is_toolkit_run(path):
                    found.extend(f"{relative}/{name}" for name in _foreign_files(path))
                else:
                    walk(path, relative + "/")
            elif relative not in listed:
                found.append(relative)

    walk(run, "")
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _TargetLock:
    """An exclusive lock on a run folder's path for a whole run (filelock), kept in the toolkit's
    cache so that nothing but the run folder appears beside the user's files."""

    def __init__(self, target: Path, option: str) -> None:
        import hashlib

        from toolkit.config import toolkit_cache

        self.target = target
        self.option = option
        key = hashlib.sha256(str(target).encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
        self.path = toolkit_cache() / "locks" / f"{key}.lock"
        self.owner = self.path.with_suffix(".owner")
        self._lock: Any = None

    def acquire(self) -> None:
        from filelock import FileLock, Timeout

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"cannot create the lock folder {self.path.parent} ({exc.strerror}); "
                                 "set TOOLKIT_CACHE to a writable folder") from None
        lock = FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            owner = _read_json(self.owner)
            pid = owner.get("pid") if isinstance(owner, dict) else None
            who = f"another run (pid {pid})" if pid else "another run"
            raise RunFolderError(f"{self.option} {self.target}: {who} is writing to this folder; wait for it to "
                                 "finish or choose another folder") from None
        self._lock = lock
        atomic_write_text(self.owner, json.dumps({"pid": os.getpid(), "target": str(self.target)}))

    def release(self) -> None:
        if self._lock is not None:
            self.owner.unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


def protected_locations() -> list[tuple[Path, str]]:
    cwd = Path.cwd().resolve()
    return [(Path("/").resolve(), "the root folder"), (Path.home().resolve(), "your home folder"),
            (cwd, "the current folder")]


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
        self.target = Path(os.path.abspath(target.expanduser())).resolve()
        self.overwrite = overwrite
        self.names = OutputNames()
        self.files: list[str] = []
        self.partial = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"
        self._kept = False
        self._check_location([Path(os.path.abspath(p)).resolve() for p in inputs])
        self._lock = _TargetLock(self.target, option)
        self._lock.acquire()
        try:
            self._remove_stale()
            self.replaces = self._check_existing()
            self._create_partial()
        except BaseException:
            self._lock.release()
            raise

    def _fail(self, why: str) -> RunFolderError:
        return RunFolderError(f"{self.option} {self.requested}: {why}")

    def _check_location(self, inputs: list[Path]) -> None:
        target = self.target
        for place, name in protected_locations():
            if _is_within(place, target):
                raise self._fail(f"is or contains {name} ({place}); choose a new folder for the run")
        for path in inputs:
            if _is_within(path, target):
                raise self._fail(f"is or contains the input {path}; choose a new folder for the run")
        if target.exists() and not target.is_dir():
            raise self._fail("exists and is not a folder")
        if target.is_dir() and os.path.ismount(target):
            raise self._fail("is a mount point, which the finished run cannot be moved onto; use a folder inside it")
        parent = target.parent
        if parent.exists() and not parent.is_dir():
            raise self._fail(f"{parent} is not a folder")

    def _remove_stale(self) -> None:
        """Partial and set-aside folders of runs that died (SIGKILL, power loss). The lock says no
        other run is writing here, so every such folder that carries our marker is stale."""
        parent = self.target.parent
        if not parent.is_dir():
            return
        for prefix in (f".{self.target.name}.partial-", f".{self.target.name}.old-"):
            for folder in parent.glob(f"{_glob_escape(prefix)}*"):
                marker = _read_json(folder / MARKER)
                if folder.is_dir() and not folder.is_symlink() and isinstance(marker, dict) \
                        and marker.get("state") in ("partial", "old"):
                    shutil.rmtree(folder, ignore_errors=True)

    def _check_existing(self) -> bool:
        """True when an earlier run is to be replaced; raises when the target may not be used."""
        target = self.target
        if not target.is_dir() or not any(target.iterdir()):
            return False
        if not self.overwrite:
            raise self._fail("folder exists and is not empty (pass --overwrite to replace an earlier toolkit run)")
        if not _is_toolkit_run(target):
            raise self._fail("--overwrite replaces only an earlier toolkit run, and this folder is not one "
                             "(it has no manifest.json of the toolkit); nothing was touched")
        foreign = _foreign_files(target)
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise self._fail(f"holds files the toolkit did not write ({foreign[0]}{more}); move them away or choose "
                             "another folder; nothing was touched")
        return True

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
        atomic_write_text((folder or self.partial) / MARKER,
                          json.dumps({"toolkit_version": toolkit.__version__, "state": state, "pid": os.getpid()}) + "\n")

    def __enter__(self) -> "RunFolder":
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
        atomic_write_text(inside(self.partial, relative), text, newline)
        self.files.append(relative)
        return self.target / relative

    def write_bytes(self, relative: str, data: bytes) -> Path:
        atomic_write_bytes(inside(self.partial, relative), data)
        self.files.append(relative)
        return self.target / relative

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest last, then move the finished folder into place — re-checking the
        target, which may have changed while the run was working."""
        manifest = {"toolkit_version": toolkit.__version__, **manifest, "files": sorted(self.files)}
        write_json(self.partial / MANIFEST, manifest)
        # From here on the manifest identifies the folder as a finished toolkit run.
        (self.partial / MARKER).unlink()
        target = self.target
        try:
            if self.replaces and target.is_dir() and _is_toolkit_run(target) and not _foreign_files(target):
                trash = target.parent / f".{target.name}.old-{os.getpid()}"
                self._mark("old", target)
                os.rename(target, trash)
                os.rename(self.partial, target)
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


def _glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)
