"""Safe output paths: file names derived from untrusted document ids, and the one check that a
path lies inside its run folder. Every file the toolkit writes goes through ``inside``.

An id that is already a plain, portable file name (or a ``/``-separated path of such names, as
folder inputs give) is kept as it is. Anything else — separators in the wrong place, ``..``,
control characters, names Windows reserves, over-long names, a leading dot — is replaced by a
readable approximation plus a hash of the whole id, so two ids never share a file.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path, PurePosixPath

from toolkit.errors import ToolkitError

HASH_CHARS = 12  # 48 bits of sha256: no accidental collision among billions of ids
MAX_COMPONENT_BYTES = 120  # leaves room for the extension and the hash under the usual 255-byte limit
MAX_DEPTH = 8
_FORBIDDEN = set('<>:"\\|?*')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
# Names that end like a hashed name are always hashed themselves, so a kept id can never equal
# the hashed form of another id.
_HASHED_SUFFIX = re.compile(rf"-[0-9a-f]{{{HASH_CHARS}}}$")


class UnsafePathError(ToolkitError):
    """A path that would leave its run folder."""


def _plain_component(part: str) -> bool:
    if not part or part in (".", "..") or part.startswith(".") or part.endswith((" ", ".")) or part != part.strip():
        return False
    # Characters first: control characters, lone surrogates and the like cannot even be encoded.
    if not all(ch == " " or (ch not in _FORBIDDEN and unicodedata.category(ch)[0] not in "CZ") for ch in part):
        return False
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES or _HASHED_SUFFIX.search(part):
        return False
    # Windows ignores what follows the first dot, and trailing spaces, when it reserves a name.
    return part.split(".")[0].strip().lower() not in _WINDOWS_RESERVED


def _readable(text: str) -> str:
    """A plain approximation of ``text``: unsafe characters become ``_``, length is bounded."""
    cleaned = "".join(ch if ch not in _FORBIDDEN and ch != "/" and unicodedata.category(ch)[0] not in "CZ" else "_"
                      for ch in text)
    cleaned = re.sub(r"_+", "_", cleaned.replace("..", "_")).strip("._ ") or "doc"
    encoded = cleaned.encode("utf-8")[:60]
    return encoded.decode("utf-8", errors="ignore").rstrip("._ ") or "doc"


def id_hash(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode("utf-8", errors="surrogatepass")).hexdigest()[:HASH_CHARS]


def _folded(relative: str) -> str:
    """What file systems may treat as the same name: case (Windows, macOS) and Unicode
    normalisation (macOS)."""
    return unicodedata.normalize("NFC", relative).casefold()


def safe_stem(doc_id: str) -> str:
    """The relative output path (without extension) for a document id; POSIX separators."""
    parts = doc_id.split("/")
    if len(parts) <= MAX_DEPTH and all(_plain_component(p) for p in parts):
        return doc_id
    return hashed_stem(doc_id)


def hashed_stem(doc_id: str) -> str:
    """A flat name that is unique to ``doc_id`` whatever it holds."""
    return f"{_readable(doc_id)}-{id_hash(doc_id)}"


class OutputNames:
    """Gives each document id of a run its own output path: one-to-one, also on case-insensitive
    file systems, and no file where another path needs a folder."""

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def path_for(self, doc_id: str, suffix: str, subdir: str = "") -> str:
        key = f"{subdir}\0{doc_id}\0{suffix}"
        if key in self._by_id:
            return self._by_id[key]
        for stem in (safe_stem(doc_id), hashed_stem(doc_id)):
            relative = (PurePosixPath(subdir) / f"{stem}{suffix}").as_posix()
            if self._free(relative):
                self._claim(relative)
                self._by_id[key] = relative
                return relative
        raise AssertionError(f"two document ids hash to the same output name: {doc_id!r}")  # a bug, not user input

    def _free(self, relative: str) -> bool:
        folded = _folded(relative)
        parents = [_folded(p.as_posix()) for p in PurePosixPath(relative).parents if p.as_posix() != "."]
        return folded not in self._files and folded not in self._folders and not any(p in self._files for p in parents)

    def _claim(self, relative: str) -> None:
        self._files.add(_folded(relative))
        self._folders.update(_folded(p.as_posix()) for p in PurePosixPath(relative).parents if p.as_posix() != ".")


def inside(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refused unless it resolves to a path inside ``root``."""
    relative = Path(relative)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        raise UnsafePathError(f"refusing to write {str(relative)!r}: not a plain path inside {root}")
    base = root.resolve()
    path = (base / relative).resolve()
    if path == base or not path.is_relative_to(base):
        raise UnsafePathError(f"refusing to write {str(relative)!r}: it resolves outside {root}")
    return base / relative
