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
import itertools
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit.io.documents import atomic_write_bytes, atomic_write_text
from toolkit.io.run_core import (
    MANIFEST,
    MARKER,
    RunFolderError,
    check_replaceable,
    finished_manifest,
    is_toolkit_run,
    lock_target,
    read_json,
    released_on_failure,
    remove_stale,
    sha256_file,
    write_marker,
)
from toolkit.io.safe_paths import inside
from toolkit.io.shards import details_name, shard_name

log = logging.getLogger(__name__)
PROGRESS = "progress.jsonl"
FAILURES = "failures.jsonl"


class AlreadyFinished(RunFolderError):
    """``--resume`` of a run that finished: nothing to do (the CLI exits 0)."""


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """What changed between two fingerprints, most telling first (the command)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new), key=lambda k: (k != "command", str(k)))
        return [d for key in keys for d in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (o, n) in enumerate(zip(old, new)) for d in _differences(o, n, f"{prefix.rstrip('.')}[{i}].")]
    if old == new:
        return []
    # A whole settings object present on one side only (e.g. the checks' thresholds, off with
    # --no-checks): "set" / "not set", not the object's every field.
    if (old is None) != (new is None) and isinstance(old if old is not None else new, (dict, list)):
        return [f"{prefix.rstrip('.')}: {'set' if old is not None else 'not set'} then, "
                f"{'set' if new is not None else 'not set'} now"]
    return [f"{prefix.rstrip('.')}: {json.dumps(old)} then, {json.dumps(new)} now"]


def _temporary(relative: str) -> str | None:
    """``a/.b.tmp`` → ``a/b``: the name a cut write was making."""
    folder, _, name = relative.rpartition("/")
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    return f"{folder}/{name[1:-4]}" if folder else name[1:-4]


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
        self._aside: Path | None = None
        self.target, self._lock = lock_target(target, inputs, option, self._fail)
        with released_on_failure(self._lock, self._fail):
            remove_stale(self.target)
            self._open(overwrite, resume)

    def _fail(self, why: str) -> RunFolderError:
        return RunFolderError(f"{self.option} {self.requested}: {why}")

    # -- opening: new, resumed, or replacing an earlier run ------------------------------------

    def _open(self, overwrite: bool, resume: bool) -> None:
        target = self.target
        marker = read_json(target / MARKER)
        running = isinstance(marker, dict) and marker.get("state") == "running"
        if running and (target / MANIFEST).is_file() and is_toolkit_run(target):
            self._tidy_finished()  # killed after the manifest was written: it is finished
            running = False
        if running:
            assert isinstance(marker, dict)
            if resume:
                self._resume(marker)
                return
            if not overwrite:
                done = len(self._read_log()[0])
                raise self._fail(f"holds an interrupted run ({done} shard(s) committed): pass --resume to continue "
                                 "it, or --overwrite to start again")
            self._check_own_files(edited_ok=False)
            self._remove_own_files()
        elif target.is_dir() and any(target.iterdir()):
            if resume and is_toolkit_run(target):
                manifest = read_json(target / MANIFEST)
                old = manifest.get("fingerprint") if isinstance(manifest, dict) else None
                changed = _differences(old, self.fingerprint)
                if not changed:
                    raise AlreadyFinished(f"{self.option} {self.requested}: this run already finished; nothing to "
                                          "resume")
                raise self._fail(f"holds a finished run with other settings or inputs ({_first(changed)}); nothing "
                                 "to resume")
            check_replaceable(target, overwrite, self._fail)
            self._set_aside()
        self._start()

    def _start(self) -> None:
        existed = self.target.is_dir()
        try:
            self.target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._fail(f"cannot write there ({exc.strerror})") from None
        self._created = not existed
        write_marker(self.target, "running", fingerprint=self.fingerprint)
        atomic_write_bytes(self.target / PROGRESS, b"")

    def _read_log(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Committed shards, and every name the run announced before writing it; a last line
        cut by a crash is neither."""
        entries: list[dict[str, Any]] = []
        announced: set[str] = set()
        try:
            lines = (self.target / PROGRESS).read_text(encoding="utf-8").split("\n")
        except OSError:
            return entries, announced
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("shard"), int):
                entry.pop("failures", None)  # on disk; kept in memory they would grow with the corpus
                entries.append(entry)
            if isinstance(entry.get("writing"), list):
                announced.update(str(name) for name in entry["writing"])
        return entries, announced

    def _own_files(self) -> tuple[dict[str, str | None], list[dict[str, Any]], set[str]]:
        """The files this run wrote: committed ones with their checksum, announced ones (a write
        in progress when it stopped) with None; the committed shards; the names announced."""
        entries, announced = self._read_log()
        own: dict[str, str | None] = dict.fromkeys(announced | {MARKER, PROGRESS})
        for entry in entries:
            own.update(_entry_files(entry))
        return own, entries, announced

    def _check_own_files(self, edited_ok: bool) -> tuple[list[dict[str, Any]], set[str]]:
        """Refuse a folder holding anything this run did not write (a file of yours is never
        replaced or deleted), or — unless ``edited_ok`` — a committed file changed since."""
        own, entries, announced = self._own_files()
        for path in sorted(self.target.rglob("*")):
            relative = path.relative_to(self.target).as_posix()
            if path.is_dir() and not path.is_symlink() and relative == "details":
                continue
            name = _temporary(relative) if path.is_file() and not path.is_symlink() else None
            if path.is_file() and not path.is_symlink() and (relative in own or name in own):
                digest = own.get(relative)
                if digest is not None and not edited_ok and sha256_file(path) != digest:
                    raise self._fail(f"{relative} changed since the run wrote it; move it away or choose another "
                                     "folder; nothing was touched")
                continue
            raise self._fail(f"holds files the toolkit did not write ({relative}); move them away or choose another "
                             "folder; nothing was touched")
        return entries, announced

    def _remove_own_files(self) -> None:
        """Delete what this run wrote (checked by ``_check_own_files``), and nothing else."""
        own, _, _ = self._own_files()
        for path in sorted(self.target.rglob("*"), reverse=True):
            relative = path.relative_to(self.target).as_posix()
            if path.is_file() and not path.is_symlink() and (relative in own or _temporary(relative) in own):
                path.unlink(missing_ok=True)
            elif relative == "details" and path.is_dir() and not any(path.iterdir()):
                path.rmdir()

    def _resume(self, marker: dict[str, Any]) -> None:
        changed = _differences(marker.get("fingerprint"), self.fingerprint)
        if changed:
            raise self._fail(f"cannot resume: the settings or inputs changed ({_first(changed)}); run again with "
                             "the same command, or use --overwrite to start again")
        entries, announced = self._check_own_files(edited_ok=True)
        for entry in entries:
            files = _entry_files(entry)
            if any(not (self.target / name).is_file() for name in files):
                continue  # moved away or deleted: the shard is made again
            edited = [name for name, digest in files.items() if sha256_file(self.target / name) != digest]
            if edited:
                raise self._fail(f"cannot resume: {edited[0]} changed since it was written; move it away (its shard "
                                 "is then made again) or use another folder")
            self.done[entry["shard"]] = entry
            self._description = entry.get("description") or self._description
        for path in self.target.rglob(".*.tmp"):  # writes cut short
            if _temporary(path.relative_to(self.target).as_posix()) in announced:
                path.unlink(missing_ok=True)
        # The log again, without a line a crash may have cut and without shards to redo, so that
        # appends start clean; names announced stay the run's own.
        self._write_lines(PROGRESS, itertools.chain([_line({"writing": sorted(announced)})], self._kept_log_lines()))
        atomic_write_text(self.target / MARKER, json.dumps({**marker, "pid": os.getpid()}, ensure_ascii=False) + "\n")
        self.resumed = True

    def _kept_log_lines(self) -> Iterator[str]:
        """The log lines of the shards kept, as written (with their failed records), one at a time."""
        with open(self.target / PROGRESS, encoding="utf-8") as log_file:
            for line in log_file:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("shard"), int) and entry["shard"] in self.done:
                    yield _line(entry)

    def _set_aside(self) -> None:
        """``--overwrite`` of a finished run: moved aside now, deleted once the new run has
        committed its first shard, put back if it stops before."""
        self._aside = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
        write_marker(self.target, "old")
        os.rename(self.target, self._aside)

    def _tidy_finished(self) -> None:
        (self.target / MARKER).unlink(missing_ok=True)
        (self.target / PROGRESS).unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------

    def _write(self, relative: str, data: bytes) -> str:
        return self._write_chunks(relative, [data])

    def _write_lines(self, relative: str, lines: Iterable[str]) -> str:
        """Like ``_write``, streamed: the lines are never one string in memory."""
        return self._write_chunks(relative, (line.encode("utf-8") for line in lines))

    def _write_chunks(self, relative: str, chunks: Iterable[bytes]) -> str:
        """Write ``relative`` atomically (a temporary file, synced, then renamed); its sha256."""
        path = inside(self.target, relative)
        tmp = path.parent / f".{path.name}.tmp"
        digest = hashlib.sha256()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                for data in chunks:
                    digest.update(data)
                    handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self._fail(f"cannot write {relative} ({exc.strerror or exc})") from None
        return digest.hexdigest()

    def _logged_failures(self) -> Iterator[str]:
        """The failed records of the committed shards, in shard order, read back from the log one
        shard at a time (a shard made again on resume is logged after later ones)."""
        where: dict[int, int] = {}
        with open(self.target / PROGRESS, "rb") as log_file:
            offset = 0
            for raw in log_file:
                if b'"failures":[{' in raw:
                    try:
                        shard = json.loads(raw).get("shard")
                    except ValueError:
                        shard = None
                    if isinstance(shard, int) and shard in self.done:
                        where[shard] = offset
                offset += len(raw)
            for shard in sorted(where):
                log_file.seek(where[shard])
                for failure in json.loads(log_file.readline()).get("failures", []):
                    yield _line(failure)

    def commit(self, index: int, lines: list[str], details: list[str], summary: dict[str, Any],
               description: dict[str, Any] | None = None) -> dict[str, Any]:
        """Make shard ``index`` durable: its output and details files, then its log line."""
        name, detail = shard_name(index), details_name(index)
        self._append({"writing": [name, detail]})
        entry = {"shard": index, "file": name,
                 "sha256": self._write(name, "".join(line + "\n" for line in lines).encode("utf-8")),
                 "details": detail,
                 "details_sha256": self._write(detail, "".join(line + "\n" for line in details).encode("utf-8")),
                 **summary}
        logged = dict(entry)
        if description is not None and description != self._description:
            logged["description"] = self._description = description
        self._append(logged)  # the shard's failures are on disk from here on; memory keeps the counts
        self.done[index] = {k: v for k, v in entry.items() if k != "failures"}
        if self._aside is not None:  # the new run works: the earlier one it replaces goes
            shutil.rmtree(self._aside, ignore_errors=True)
            self._aside = None
        return entry

    def _append(self, entry: dict[str, Any]) -> None:
        try:
            with open(self.target / PROGRESS, "a", encoding="utf-8") as handle:
                handle.write(_line(entry))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise self._fail(f"cannot write {PROGRESS} ({exc.strerror or exc})") from None

    @property
    def description(self) -> dict[str, Any] | None:
        return self._description

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Write ``failures.jsonl`` and the manifest; the folder is then a finished run."""
        from toolkit.runtime import raise_if_terminated

        raise_if_terminated()
        self._append({"writing": [FAILURES, MANIFEST]})
        shards = [self.done[i] for i in sorted(self.done)]
        checksums = {FAILURES: self._write_lines(FAILURES, self._logged_failures())}
        for entry in shards:
            checksums.update(_entry_files(entry))
        # A shard's quality summary stays in the completion log: the manifest has the run's (added
        # up from them), and stays small at any number of shards.
        listed = [{k: v for k, v in e.items() if k not in ("failures", "description", "quality")} for e in shards]
        body = finished_manifest({**manifest, "fingerprint": self.fingerprint, "shards": listed,
                                  "failures_file": FAILURES, "resumed": self.resumed}, checksums)
        self._write(MANIFEST, (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        self._tidy_finished()
        self._finished = True
        return self.target

    def close(self) -> None:
        """Release the lock. A run that committed nothing leaves nothing behind (an earlier run it
        was to replace is put back); one that did stays, marked as interrupted, for --resume."""
        if not self._finished and not self.done and self.target.is_dir() and (self.target / MARKER).is_file():
            self._remove_own_files()
            if self._created and not any(self.target.iterdir()):
                self.target.rmdir()
        if self._aside is not None and not self._finished and not self.done:
            if self.target.is_dir() and not any(self.target.iterdir()):
                self.target.rmdir()
            if not self.target.exists():
                os.rename(self._aside, self.target)
                (self.target / MARKER).unlink(missing_ok=True)
                self._aside = None
        self._lock.release()

    def __enter__(self) -> ShardedRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _first(changes: list[str]) -> str:
    return changes[0] + (f" (and {len(changes) - 1} more)" if len(changes) > 1 else "")


def _entry_files(entry: dict[str, Any]) -> dict[str, str]:
    return {entry["file"]: entry["sha256"], entry["details"]: entry["details_sha256"]}


def _line(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a failed record's id with a lone surrogate: kept as its \u escape
        text = json.dumps(obj, separators=(",", ":"))
    return text + "\n"

