"""Run folders: every output of a run is written to a hidden folder and moved into place at the end,
so an interrupted or failed run never leaves files that look complete."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.io.documents import atomic_write_bytes, atomic_write_text, write_json
from toolkit.io.safe_paths import OutputNames, inside
from toolkit.version import __version__ as toolkit_version

log = logging.getLogger(__name__)
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
    return isinstance(manifest, dict) and "toolkit_version" in manifest and isinstance(manifest.get("checksums"), dict)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _foreign_files(run: Path) -> list[str]:
    """What in a previous run the toolkit did not write exactly as it is: files its manifest does
    not list with a checksum, files changed since (a post-edited translation), folders no listed
    file needs, links. None of these may ever be deleted."""
    manifest = _read_json(run / MANIFEST)
    checksums = manifest.get("checksums", {}) if isinstance(manifest, dict) else {}
    checksums = checksums if isinstance(checksums, dict) else {}
    needed_folders = {parent.as_posix() for name in checksums for parent in Path(name).parents if parent != Path(".")}
    found: list[str] = []
    for path in sorted(run.rglob("*")):
        relative = path.relative_to(run).as_posix()
        if path.is_symlink():
            found.append(relative)
        elif path.is_dir():
            if relative not in needed_folders:
                found.append(relative + "/")
        elif relative == MANIFEST:
            continue
        elif relative not in checksums:
            found.append(relative)
        elif _sha256(path) != checksums[relative]:
            found.append(f"{relative} (changed since the run)")
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
    """An exclusive lock (filelock) on a run folder's path for a whole run: ``.<name>.lock``
    beside the target, holding the owner's pid, removed when the run ends. Beside the target,
    not in a cache, so that runs with different settings (HOME, TOOLKIT_CACHE) still exclude
    each other."""

    def __init__(self, target: Path, option: str, shown: Path) -> None:
        self.path = target.parent / f".{target.name}.lock"
        self.option = option
        self.shown = shown
        self._lock: Any = None

    def acquire(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            pid = self._owner()
            who = f"another run (pid {pid})" if pid else "another run"
            raise RunFolderError(f"{self.option} {self.shown}: {who} is writing to this folder; wait for it to "
                                 "finish or choose another folder") from None
        self._lock = lock
        with open(self.path, "w", encoding="utf-8") as handle:  # the lock is on the inode, not the content
            handle.write(str(os.getpid()))

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._lock is not None:
            # Unlinked before the release: a contender that opened the old file sees it replaced
            # and retries on a new one (filelock checks the inode), so exclusion holds.
            self.path.unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


def protected_locations() -> list[tuple[Path, str]]:
    cwd = Path.cwd().resolve()
    return [(Path("/").resolve(), "the root folder"), (Path.home().resolve(), "your home folder"),
            (cwd, "the current folder")]


def location_problem(target: Path, inputs: list[Path]) -> str | None:
    """Why ``target`` (resolved) may not hold a run, or None."""
    for place, name in protected_locations():
        if _is_within(place, target):
            return f"is or contains {name} ({place}); choose a new folder for the run"
    for path in inputs:
        if _is_within(path, target):
            return f"is or contains the input {path}; choose a new folder for the run"
    if target.exists() and not target.is_dir():
        return "exists and is not a folder"
    if target.is_dir() and os.path.ismount(target):
        return "is a mount point, which the finished run cannot be moved onto; use a folder inside it"
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        return f"{parent} is not a folder"
    return None


def lock_target(target: Path, inputs: Iterable[Path], option: str,
                fail: Callable[[str], RunFolderError]) -> tuple[Path, _TargetLock]:
    """A run folder's path resolved, checked (``location_problem``) and locked for the run."""
    if not str(target).strip():
        raise fail("an empty path")
    try:
        resolved = Path(os.path.abspath(target.expanduser())).resolve()
        problem = location_problem(resolved, [Path(os.path.abspath(p)).resolve() for p in inputs])
        if problem:
            raise fail(problem)
        lock = _TargetLock(resolved, option, target)
        lock.acquire()
    except OSError as exc:
        raise fail(f"cannot be used ({exc.strerror or exc})") from None
    except RuntimeError as exc:  # pathlib's "Symlink loop"
        raise fail(f"cannot be resolved ({exc})") from None
    return resolved, lock


@contextlib.contextmanager
def released_on_failure(lock: _TargetLock, fail: Callable[[str], RunFolderError]) -> Iterator[None]:
    """Opening a locked run folder: if it fails, the lock goes (an OS error as one line)."""
    try:
        yield
    except OSError as exc:
        lock.release()
        raise fail(f"cannot be used ({exc.strerror or exc})") from None
    except BaseException:
        lock.release()
        raise


def remove_stale(target: Path) -> None:
    """Partial and set-aside folders of runs that died (SIGKILL, power loss). Call with the
    target's lock held: no other run is writing here, so every such folder carrying our marker
    whose pid is gone is stale."""
    parent = target.parent
    if not parent.is_dir():
        return
    for prefix in (f".{target.name}.partial-", f".{target.name}.old-"):
        for folder in parent.glob(f"{_glob_escape(prefix)}*"):
            marker = _read_json(folder / MARKER)
            if not (folder.is_dir() and not folder.is_symlink() and isinstance(marker, dict)):
                continue
            pid = marker.get("pid")
            # Only folders of runs that are gone: a live pid may be a run that does not share
            # our lock (an older toolkit), and is never touched.
            if marker.get("state") in ("partial", "old") and isinstance(pid, int) and not _pid_alive(pid):
                log.debug("removing %s, left by a run (pid %s) that is gone", folder, pid)
                shutil.rmtree(folder, ignore_errors=True)


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
                          json.dumps({"toolkit_version": toolkit_version, "state": state, "pid": os.getpid()}) + "\n")

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
            checksum = _sha256(path)
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
        manifest = {"toolkit_version": toolkit_version, **manifest, "files": sorted(self.files),
                    "checksums": dict(sorted(self.checksums.items()))}
        try:
            write_json(self.partial / MANIFEST, manifest)
            # From here on the manifest identifies the folder as a finished toolkit run.
            (self.partial / MARKER).unlink()
        except OSError as exc:
            self.close()
            raise self._fail(f"cannot write the manifest ({exc.strerror or exc})") from None
        target = self.target
        try:
            if self.replaces and target.is_dir() and _is_toolkit_run(target) and not _foreign_files(target):
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


def _glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)
