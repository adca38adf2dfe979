"""Run folders of record corpora: shards written straight into the folder as they finish, a
completion log, and ``--resume``.

While it runs, the folder holds the marker ``.toolkit-run`` (state ``running``, the settings'
fingerprint) and ``progress.jsonl``, one line per committed shard. A shard is committed by writing
its files to temporary names, fsync, rename, and only then appending its line to the log (fsync):
a shard in the log is complete on disk, whatever kills the run and when. At the end come
``failures.jsonl`` and ``manifest.json`` (shard list with checksums, totals); the marker and the
log go. An interrupted run keeps its folder: ``--resume`` continues it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import toolkit
from toolkit.io.documents import atomic_write_bytes, atomic_write_text
from toolkit.io.runs import (
    MANIFEST,
    MARKER,
    RunFolderError,
    _foreign_files,
    _is_toolkit_run,
    _read_json,
    _sha256,
    _TargetLock,
    location_problem,
    remove_stale,
)
from toolkit.io.safe_paths import inside
from toolkit.io.shards import details_name, shard_name

log = logging.getLogger(__name__)
PROGRESS = "progress.jsonl"
FAILURES = "failures.jsonl"


class AlreadyFinished(RunFolderError):
    """``--resume`` of a run that finished: nothing to do (the CLI exits 0)."""


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix.rstrip('.')}: {json.dumps(old)} then, {json.dumps(new)} now"]


def _ours(relative: str) -> bool:
    """Names only a sharded run writes (a shard, its details, its temporary files, the log)."""
    name = relative.rsplit("/", 1)[-1]
    folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
    if folder not in ("", "details"):
        return False
    if name.startswith(".") and name.endswith(".tmp"):  # a write cut short: ".part-00003.jsonl.tmp"
        name = name[1:-len(".tmp")]
        relative = f"{folder}/{name}" if folder else name
        if relative == MANIFEST:
            return True
    return (name.startswith("part-") and name.endswith(".jsonl")) or relative in (PROGRESS, MARKER, FAILURES)


class ShardedRun:
    """The run folder of a record corpus. ``done`` holds the shards already committed (by an
    interrupted run that this one resumes); ``commit`` adds one, ``finish`` writes the manifest."""

    def __init__(self, target: Path, fingerprint: dict[str, Any], overwrite: bool = False, resume: bool = False,
                 inputs: Iterable[Path] = (), option: str = "--out") -> None:
        self.option = option
        self.requested = target
        self.fingerprint = fingerprint
        self.done: dict[int, dict[str, Any]] = {}
        self.resumed = False
        self._created = False
        self._finished = False
        self._description: dict[str, Any] | None = None
        if not str(target).strip():
            raise self._fail("an empty path")
        try:
            self.target = Path(os.path.abspath(target.expanduser())).resolve()
            problem = location_problem(self.target, [Path(os.path.abspath(p)).resolve() for p in inputs])
            if problem:
                raise self._fail(problem)
            self._lock = _TargetLock(self.target, option, target)
            self._lock.acquire()
        except OSError as exc:
            raise self._fail(f"cannot be used ({exc.strerror or exc})") from None
        try:
            remove_stale(self.target)
            self._open(overwrite, resume)
        except OSError as exc:
            self._lock.release()
            raise self._fail(f"cannot be used ({exc.strerror or exc})") from None
        except BaseException:
            self._lock.release()
            raise

    def _fail(self, why: str) -> RunFolderError:
        return RunFolderError(f"{self.option} {self.requested}: {why}")

    # -- opening: new, resumed, or replacing an earlier run ------------------------------------

    def _open(self, overwrite: bool, resume: bool) -> None:
        target = self.target
        marker = _read_json(target / MARKER)
        running = isinstance(marker, dict) and marker.get("state") == "running"
        if running and (target / MANIFEST).is_file() and _is_toolkit_run(target):
            self._tidy_finished()  # killed after the manifest was written: it is finished
            running = False
        if running:
            assert isinstance(marker, dict)
            if resume:
                self._resume(marker)
                return
            if not overwrite:
                done = len(self._read_log())
                raise self._fail(f"holds an interrupted run ({done} shard(s) committed): pass --resume to continue "
                                 "it, or --overwrite to start again")
            self._discard_interrupted()
        elif target.is_dir() and any(target.iterdir()):
            finished = _is_toolkit_run(target)
            if resume and finished:
                manifest = _read_json(target / MANIFEST)
                if isinstance(manifest, dict) and manifest.get("fingerprint") == self.fingerprint:
                    raise AlreadyFinished(f"{self.option} {self.requested}: this run already finished; nothing to "
                                          "resume")
                raise self._fail("holds a finished run with other settings or inputs; nothing to resume")
            if not overwrite:
                raise self._fail("folder exists and is not empty (pass --overwrite to replace an earlier toolkit run)")
            if not finished:
                raise self._fail("--overwrite replaces only an earlier toolkit run, and this folder is not one "
                                 "(it has no manifest.json of the toolkit); nothing was touched")
            foreign = _foreign_files(target)
            if foreign:
                more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
                raise self._fail(f"holds files the toolkit did not write ({foreign[0]}{more}); move them away or "
                                 "choose another folder; nothing was touched")
            self._remove_finished()
        self._start()

    def _start(self) -> None:
        existed = self.target.is_dir()
        try:
            self.target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._fail(f"cannot write there ({exc.strerror})") from None
        self._created = not existed
        atomic_write_text(self.target / MARKER, json.dumps({
            "toolkit_version": toolkit.__version__, "state": "running", "pid": os.getpid(),
            "fingerprint": self.fingerprint}, ensure_ascii=False) + "\n")
        atomic_write_bytes(self.target / PROGRESS, b"")

    def _read_log(self) -> list[dict[str, Any]]:
        """Committed shards; a last line cut by a crash is not a commit."""
        entries = []
        try:
            lines = (self.target / PROGRESS).read_text(encoding="utf-8").split("\n")
        except OSError:
            return []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("shard"), int):
                entries.append(entry)
        return entries

    def _resume(self, marker: dict[str, Any]) -> None:
        changed = _differences(marker.get("fingerprint"), self.fingerprint)
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise self._fail(f"cannot resume: the settings or inputs changed ({changed[0]}{more}); run again with "
                             "the same command, or use --overwrite to start again")
        entries = self._read_log()
        for entry in entries:
            if any(not (self.target / name).is_file() or _sha256(self.target / name) != digest
                   for name, digest in _entry_files(entry).items()):
                raise self._fail(f"cannot resume: {entry['file']} changed since it was written; move it away "
                                 "(it will be made again) or use --overwrite")
            self.done[entry["shard"]] = entry
            self._description = entry.get("description") or self._description
        for path in self.target.rglob(".*.tmp"):  # a commit cut short
            if _ours(path.relative_to(self.target).as_posix()):
                path.unlink(missing_ok=True)
        # The log again, without a line a crash may have cut, so that appends start clean.
        atomic_write_text(self.target / PROGRESS, "".join(_line(e) for e in entries))
        atomic_write_text(self.target / MARKER, json.dumps({**marker, "pid": os.getpid()}, ensure_ascii=False) + "\n")
        self.resumed = True

    def _discard_interrupted(self) -> None:
        """``--overwrite`` of an interrupted run: only if every file is one it wrote."""
        logged = {name: digest for e in self._read_log() for name, digest in _entry_files(e).items()}
        foreign = []
        for path in sorted(self.target.rglob("*")):
            relative = path.relative_to(self.target).as_posix()
            stray = path.is_dir() and relative != "details"
            edited = path.is_file() and relative in logged and _sha256(path) != logged[relative]
            if path.is_symlink() or stray or edited or (path.is_file() and not _ours(relative)):
                foreign.append(relative)
        if foreign:
            raise self._fail(f"holds files the toolkit did not write ({foreign[0]}); move them away or choose another "
                             "folder; nothing was touched")
        shutil.rmtree(self.target)

    def _remove_finished(self) -> None:
        trash = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
        atomic_write_text(self.target / MARKER, json.dumps({"toolkit_version": toolkit.__version__, "state": "old",
                                                            "pid": os.getpid()}) + "\n")
        os.rename(self.target, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _tidy_finished(self) -> None:
        (self.target / MARKER).unlink(missing_ok=True)
        (self.target / PROGRESS).unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------

    def _write(self, relative: str, data: bytes) -> str:
        path = inside(self.target, relative)
        tmp = path.parent / f".{path.name}.tmp"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self._fail(f"cannot write {relative} ({exc.strerror or exc})") from None
        return hashlib.sha256(data).hexdigest()

    def commit(self, index: int, lines: list[str], details: list[str], summary: dict[str, Any],
               description: dict[str, Any] | None = None) -> dict[str, Any]:
        """Make shard ``index`` durable: its output and details files, then its log line."""
        name, detail = shard_name(index), details_name(index)
        entry = {"shard": index, "file": name,
                 "sha256": self._write(name, "".join(line + "\n" for line in lines).encode("utf-8")),
                 "details": detail,
                 "details_sha256": self._write(detail, "".join(line + "\n" for line in details).encode("utf-8")),
                 **summary}
        logged = dict(entry)
        if description is not None and description != self._description:
            logged["description"] = self._description = description
        try:
            with open(self.target / PROGRESS, "a", encoding="utf-8") as handle:
                handle.write(_line(logged))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise self._fail(f"cannot write {PROGRESS} ({exc.strerror or exc})") from None
        self.done[index] = entry
        return entry

    @property
    def description(self) -> dict[str, Any] | None:
        return self._description

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Write ``failures.jsonl`` and the manifest; the folder is then a finished run."""
        from toolkit.console import raise_if_terminated

        raise_if_terminated()
        shards = [self.done[i] for i in sorted(self.done)]
        failures = [f for entry in shards for f in entry.get("failures", [])]
        checksums = {FAILURES: self._write(FAILURES, "".join(_line(f) for f in failures).encode("utf-8"))}
        for entry in shards:
            checksums.update(_entry_files(entry))
        listed = [{k: v for k, v in e.items() if k not in ("failures", "description")} for e in shards]
        body = {**manifest, "fingerprint": self.fingerprint, "shards": listed, "failures_file": FAILURES,
                "resumed": self.resumed, "files": sorted(checksums), "checksums": dict(sorted(checksums.items()))}
        self._write(MANIFEST, (json.dumps({"toolkit_version": toolkit.__version__, **body}, ensure_ascii=False,
                                          indent=2) + "\n").encode("utf-8"))
        self._tidy_finished()
        self._finished = True
        return self.target

    def close(self) -> None:
        """Release the lock. A run that committed nothing leaves nothing behind; one that did
        stays, marked as interrupted, for --resume."""
        if not self._finished and not self.done and self.target.is_dir():
            for path in sorted(self.target.rglob("*"), reverse=True):
                relative = path.relative_to(self.target).as_posix()
                if path.is_file() and not path.is_symlink() and _ours(relative):
                    path.unlink(missing_ok=True)
                elif relative == "details" and path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            if self._created and not any(self.target.iterdir()):
                self.target.rmdir()
        self._lock.release()

    def __enter__(self) -> ShardedRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _entry_files(entry: dict[str, Any]) -> dict[str, str]:
    return {entry["file"]: entry["sha256"], entry["details"]: entry["details_sha256"]}


def _line(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a failed record's id with a lone surrogate: kept as its \u escape
        text = json.dumps(obj, separators=(",", ":"))
    return text + "\n"
