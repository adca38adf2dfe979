"""A translation memory file: SQLite (stdlib ``sqlite3``) in WAL mode, shared by runs and processes.

An entry is one unit's translation (its record's output, token counts, pivot ``via`` and
warnings) under a key: the digest of a *context* (what decides the output besides the text: the
model's identity, backend, generation settings, route — see toolkit.tasks.memory) and the unit's
source text. Entries are size-bounded: past ``max_entries`` (kept in the file's own ``settings``
table) the least recently used are deleted.

Concurrency: several processes (or Ray actors on one machine) may read and write one file. WAL
lets readers run beside a writer; every write is one short transaction and waits up to
``BUSY_TIMEOUT_MS`` for the lock. An interrupted write is rolled back by SQLite, never half-kept.
A file that is not SQLite, not a toolkit memory, of another schema version, or corrupt, is refused
with one line (ToolkitError).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from toolkit.errors import ToolkitError

SCHEMA = "toolkit-translation-memory"
SCHEMA_VERSION = 1
DEFAULT_MAX_ENTRIES = 1_000_000
BUSY_TIMEOUT_MS = 30_000
SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite allows 999 bound parameters per statement in old builds.
LOOKUP_CHUNK = 500

_TABLES = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contexts (digest TEXT PRIMARY KEY, source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, context TEXT NOT NULL REFERENCES contexts(digest),
    source TEXT NOT NULL, output TEXT NOT NULL, record TEXT NOT NULL, created REAL NOT NULL, used REAL NOT NULL);
CREATE INDEX IF NOT EXISTS entries_used ON entries(used);
"""


@dataclass
class Entry:
    """What a memory hit gives back: the unit's record fields and its warnings."""

    output: str
    record: dict[str, Any]  # source_tokens, output_tokens, pieces, via, confidence
    warnings: list[str]


def entry_key(context: str, source: str) -> str:
    return hashlib.sha256(f"{context}\x00{source}".encode("utf-8", "surrogatepass")).hexdigest()


def context_digest(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class MemoryFile:
    """One translation-memory file, opened (created if absent) and checked."""

    def __init__(self, path: str | Path, max_entries: int | None = None, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise ToolkitError(f"--tm {self.path}: is a folder, not a translation-memory file")
        exists = self.path.is_file() and self.path.stat().st_size > 0
        if not exists and not create:
            raise ToolkitError(f"{self.path}: no translation memory there")
        if exists:
            with self.path.open("rb") as handle:
                if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                    raise ToolkitError(f"--tm {self.path}: not a translation memory (not an SQLite file); "
                                       "refusing to touch it")
        elif not self.path.parent.is_dir():
            raise ToolkitError(f"--tm {self.path}: folder {self.path.parent} does not exist")
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if exists:
                self._check()
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable up to the last checkpointed commit
            if not exists:
                self._create()
            if max_entries is not None:
                self.set_max_entries(max_entries)
        except sqlite3.DatabaseError as exc:
            raise ToolkitError(f"--tm {self.path}: unreadable translation memory ({exc})") from None

    def _check(self) -> None:
        try:
            rows = dict(self.db.execute("SELECT name, value FROM settings").fetchall())
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc):
                raise ToolkitError(f"--tm {self.path}: an SQLite file that is not a toolkit translation memory; "
                                   "refusing to touch it") from None
            raise
        if rows.get("schema") != SCHEMA:
            raise ToolkitError(f"--tm {self.path}: an SQLite file that is not a toolkit translation memory; "
                               "refusing to touch it")
        if rows.get("version") != str(SCHEMA_VERSION):
            raise ToolkitError(f"--tm {self.path}: translation memory of schema version {rows.get('version')}; "
                               f"this toolkit reads version {SCHEMA_VERSION}")
        integrity = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            raise ToolkitError(f"--tm {self.path}: corrupt translation memory ({integrity})")

    def _create(self) -> None:
        with self._write() as db:
            for statement in filter(str.strip, _TABLES.split(";")):
                db.execute(statement)
            db.executemany("INSERT OR IGNORE INTO settings VALUES (?, ?)",
                           [("schema", SCHEMA), ("version", str(SCHEMA_VERSION)),
                            ("max_entries", str(DEFAULT_MAX_ENTRIES))])

    class _Transaction:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock later
            return self.db

        def __exit__(self, kind: Any, *rest: Any) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _write(self) -> MemoryFile._Transaction:
        return MemoryFile._Transaction(self.db)

    @property
    def max_entries(self) -> int:
        row = self.db.execute("SELECT value FROM settings WHERE name = 'max_entries'").fetchone()
        return int(row[0]) if row else DEFAULT_MAX_ENTRIES

    def set_max_entries(self, value: int) -> None:
        if value < 1:
            raise ToolkitError("--tm-max-entries: must be at least 1")
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('max_entries', ?)", (str(value),))

    def register(self, digest: str, source_lang: str, target_lang: str, description: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO contexts VALUES (?, ?, ?, ?)",
                       (digest, source_lang, target_lang, json.dumps(description, sort_keys=True)))

    def lookup(self, context: str, sources: Sequence[str]) -> dict[str, Entry]:
        """The entries found for ``sources`` (by source text); their use time is refreshed (LRU)."""
        keys = {entry_key(context, s): s for s in dict.fromkeys(sources)}
        found: dict[str, Entry] = {}
        listed = list(keys)
        for start in range(0, len(listed), LOOKUP_CHUNK):
            chunk = listed[start:start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, output, record in self.db.execute(
                    f"SELECT key, output, record FROM entries WHERE key IN ({marks})", chunk):
                data = json.loads(record)
                found[keys[key]] = Entry(output, data["record"], data["warnings"])
        if found:
            now = time.time()
            hit = [k for k, s in keys.items() if s in found]
            with self._write() as db:
                db.executemany("UPDATE entries SET used = ? WHERE key = ?", [(now, k) for k in hit])
        return found

    def store(self, context: str, entries: dict[str, Entry]) -> None:
        """Add entries (one short transaction), then drop the least recently used beyond the bound."""
        if not entries:
            return
        now = time.time()
        rows = [(entry_key(context, source), context, source, e.output,
                 json.dumps({"record": e.record, "warnings": e.warnings}, ensure_ascii=False), now, now)
                for source, e in entries.items()]
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._bound(db, self.max_entries)

    def _bound(self, db: sqlite3.Connection, limit: int) -> int:
        count = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        if count <= limit:
            return 0
        db.execute("DELETE FROM entries WHERE key IN (SELECT key FROM entries ORDER BY used LIMIT ?)",
                   (count - limit,))
        return int(count - limit)

    def prune(self, max_entries: int | None = None, older_than_days: float | None = None) -> int:
        """Delete the least recently used entries beyond ``max_entries`` (default: the file's
        bound) and those unused for ``older_than_days``; returns how many were deleted."""
        deleted = 0
        with self._write() as db:
            if older_than_days is not None:
                cursor = db.execute("DELETE FROM entries WHERE used < ?", (time.time() - older_than_days * 86400,))
                deleted += cursor.rowcount
            deleted += self._bound(db, max_entries if max_entries is not None else self.max_entries)
            db.execute("DELETE FROM contexts WHERE digest NOT IN (SELECT DISTINCT context FROM entries)")
        return deleted

    def stats(self) -> dict[str, Any]:
        per_context = self.db.execute(
            "SELECT c.digest, c.source_lang, c.target_lang, c.description, COUNT(e.key), MIN(e.created), MAX(e.used) "
            "FROM contexts c LEFT JOIN entries e ON e.context = c.digest GROUP BY c.digest ORDER BY c.digest").fetchall()
        contexts = []
        for digest, src, tgt, description, count, created, used in per_context:
            model = json.loads(description).get("model") or {}
            contexts.append({"context": digest[:16], "source_lang": src, "target_lang": tgt, "entries": count,
                             "model": model.get("reference") if isinstance(model, dict) else model,
                             "first_stored": created, "last_used": used})
        return {"path": str(self.path), "schema_version": SCHEMA_VERSION, "max_entries": self.max_entries,
                "entries": sum(c["entries"] for c in contexts), "bytes": self.path.stat().st_size,
                "contexts": contexts}

    def rows(self) -> Iterator[tuple[str, str, str, str, float]]:
        """(source_lang, target_lang, source, output, created) of every entry, by language pair."""
        yield from self.db.execute(
            "SELECT c.source_lang, c.target_lang, e.source, e.output, e.created FROM entries e "
            "JOIN contexts c ON c.digest = e.context ORDER BY c.source_lang, c.target_lang, e.created, e.key")

    def close(self) -> None:
        self.db.close()


# Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def export_tmx(memory: MemoryFile, out: Path, version: str) -> int:
    """Write every entry as TMX 1.4b (the format CAT tools read), streamed; returns the count.
    The file is written beside ``out`` and renamed into place, so it is whole or absent."""
    target = out.resolve()
    if target in {memory.path.resolve().with_name(memory.path.resolve().name + tail) for tail in ("", "-wal", "-shm")}:
        raise ToolkitError(f"--out {out}: is the translation memory being exported; give another file name")
    sources = {src for src, in memory.db.execute("SELECT DISTINCT source_lang FROM contexts")}
    srclang = next(iter(sources)) if len(sources) == 1 else "*all*"
    partial = out.with_name(f".{out.name}.partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4">\n')
            handle.write(f'  <header creationtool="toolkit" creationtoolversion={quoteattr(version)} '
                         f'datatype="plaintext" segtype="sentence" adminlang="en" srclang={quoteattr(srclang)} '
                         'o-tmf="toolkit-sqlite"/>\n  <body>\n')
            for src, tgt, source, output, created in memory.rows():
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
                handle.write(f'    <tu creationdate="{stamp}">\n'
                             f'      <tuv xml:lang={quoteattr(src)}><seg>{_xml_text(source)}</seg></tuv>\n'
                             f'      <tuv xml:lang={quoteattr(tgt)}><seg>{_xml_text(output)}</seg></tuv>\n'
                             '    </tu>\n')
                count += 1
            handle.write("  </body>\n</tmx>\n")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return count
