"""The core every run folder shares, whichever its layout (``RunFolder``: files moved into place
at the end; ``ShardedRun``: shards committed as they finish): the lock on the target, its checks,
the marker of an unfinished run, what an earlier run may be replaced, and the manifest's frame."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.io.documents import atomic_write_text
from toolkit.version import __version__ as toolkit_version

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
# Unfinished and set-aside run folders carry this file, finished ones their manifest: only such
# folders are ever replaced or removed.
MARKER = ".toolkit-run"


class RunFolderError(ToolkitError):
    """A run folder that cannot be used safely."""


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_toolkit_run(folder: Path) -> bool:
    """A finished run: it has the manifest the toolkit writes last."""
    manifest = read_json(folder / MANIFEST)
    return isinstance(manifest, dict) and "toolkit_version" in manifest and isinstance(manifest.get("checksums"), dict)


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def foreign_files(run: Path) -> list[str]:
    """What in a previous run the toolkit did not write exactly as it is: files its manifest does
    not list with a checksum, files changed since (a post-edited translation), folders no listed
    file needs, links. None of these may ever be deleted."""
    manifest = read_json(run / MANIFEST)
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
        elif sha256_file(path) != checksums[relative]:
            found.append(f"{relative}{CHANGED}")
    return found


def changed_files(run: Path) -> list[str]:
    """The files of a finished run whose bytes are no longer what the run wrote (post-edited)."""
    return [name.removesuffix(CHANGED) for name in foreign_files(run) if name.endswith(CHANGED)]


CHANGED = " (changed since the run)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TargetLock:
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
        try:
            with open(self.path, "w", encoding="utf-8") as handle:  # the lock is on the inode, not the content
                handle.write(str(os.getpid()))
        except OSError:
            self.release()  # a full disk: no empty lock file is left behind
            raise

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
                fail: Callable[[str], RunFolderError]) -> tuple[Path, TargetLock]:
    """A run folder's path resolved, checked (``location_problem``) and locked for the run."""
    if not str(target).strip():
        raise fail("an empty path")
    try:
        resolved = Path(os.path.abspath(target.expanduser())).resolve()
        problem = location_problem(resolved, [Path(os.path.abspath(p)).resolve() for p in inputs])
        if problem:
            raise fail(problem)
        lock = TargetLock(resolved, option, target)
        lock.acquire()
    except OSError as exc:
        raise fail(f"cannot be used ({exc.strerror or exc})") from None
    except RuntimeError as exc:  # pathlib's "Symlink loop"
        raise fail(f"cannot be resolved ({exc})") from None
    return resolved, lock


@contextlib.contextmanager
def released_on_failure(lock: TargetLock, fail: Callable[[str], RunFolderError]) -> Iterator[None]:
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
            marker = read_json(folder / MARKER)
            if not (folder.is_dir() and not folder.is_symlink() and isinstance(marker, dict)):
                continue
            pid = marker.get("pid")
            # Only folders of runs that are gone: a live pid may be a run that does not share
            # our lock (an older toolkit), and is never touched.
            if marker.get("state") in ("partial", "old") and isinstance(pid, int) and not _pid_alive(pid):
                log.debug("removing %s, left by a run (pid %s) that is gone", folder, pid)
                shutil.rmtree(folder, ignore_errors=True)


def _glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


def write_marker(folder: Path, state: str, **extra: Any) -> None:
    """The marker of a folder the toolkit is working in: ``partial`` (files layout), ``running``
    (shards layout, with its fingerprint), ``old`` (an earlier run set aside)."""
    atomic_write_text(folder / MARKER, json.dumps({"toolkit_version": toolkit_version, "state": state,
                                                   "pid": os.getpid(), **extra}, ensure_ascii=False) + "\n")


def check_replaceable(target: Path, overwrite: bool, fail: Callable[[str], RunFolderError]) -> bool:
    """True when ``target`` holds an earlier finished run to replace (``overwrite``), False when
    it is new or empty; raises when it may not be used: not empty without ``overwrite``, not a
    toolkit run, or holding a file the run did not write (never deleted)."""
    if not target.is_dir() or not any(target.iterdir()):
        return False
    if not overwrite:
        raise fail("folder exists and is not empty (pass --overwrite to replace an earlier toolkit run)")
    if not is_toolkit_run(target):
        raise fail("--overwrite replaces only an earlier toolkit run, and this folder is not one "
                   "(it has no manifest.json of the toolkit); nothing was touched")
    foreign = foreign_files(target)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise fail(f"holds files the toolkit did not write ({foreign[0]}{more}); move them away or choose "
                   "another folder; nothing was touched")
    return True


def finished_manifest(manifest: dict[str, Any], checksums: dict[str, str]) -> dict[str, Any]:
    """The manifest a finished run writes last, in either layout: what identifies it as the
    toolkit's (``is_toolkit_run``) and the checksum of every file it wrote."""
    return {"toolkit_version": toolkit_version, **manifest, "files": sorted(checksums),
            "checksums": dict(sorted(checksums.items()))}
