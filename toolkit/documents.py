"""Documents in and out: the readers for files, folders, stdin and JSONL, and atomic file writes."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from toolkit.errors import InputError

TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)
_BINARY_SNIFF_BYTES = 8192


@dataclass
class Document:
    """One input document. ``text`` has LF newlines; ``newline`` remembers the original style."""

    id: str
    text: str
    source: str
    format: str = "txt"  # txt | md | html | jsonl | stdin
    newline: str = "\n"
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_blank(self) -> bool:
        return not self.text.strip()


def decode_bytes(data: bytes, origin: str, encoding: str = "utf-8") -> tuple[str, str]:
    """Decode ``data`` to text with LF newlines; return (text, original newline style).

    Raises InputError naming ``origin`` for binary data or bytes that are not valid ``encoding``.
    """
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise InputError(f"{origin}: looks like a binary file (NUL byte found), expected text")
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{origin}: not valid {encoding} at byte offset {exc.start} "
            f"(byte 0x{data[exc.start]:02x}); convert the file or pass --encoding"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}'") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, newline


def _read_jsonl(data: str, origin: str) -> list[dict[str, Any]]:
    records = []
    for lineno, line in enumerate(data.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{origin}:{lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{origin}:{lineno}: expected a JSON object with 'id' and 'text'")
        records.append(record)
    return records


def documents_from_jsonl(path: Path, encoding: str = "utf-8", text_key: str = "text") -> list[Document]:
    text = read_text_file(path, encoding)
    docs = []
    for lineno, record in enumerate(_read_jsonl(text, str(path)), start=1):
        if "id" not in record or text_key not in record:
            raise InputError(f"{path}: record {lineno} lacks '{'id' if 'id' not in record else text_key}'")
        if not isinstance(record[text_key], str):
            raise InputError(f"{path}: record {lineno}: '{text_key}' must be a string")
        extra = {k: v for k, v in record.items() if k not in ("id", text_key, "lang")}
        docs.append(
            Document(
                id=str(record["id"]),
                text=record[text_key].replace("\r\n", "\n"),
                source=f"{path}#{record['id']}",
                format="jsonl",
                lang=record.get("lang"),
                meta=extra,
            )
        )
    return docs


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """A text file's content with LF newlines; InputError for unreadable, binary or mis-encoded files."""
    return decode_bytes(_read_file(path), str(path), encoding)[0]


def _document_from_file(path: Path, doc_id: str, encoding: str) -> Document:
    text, newline = decode_bytes(_read_file(path), str(path), encoding)
    fmt = {".md": "md", ".html": "html", ".htm": "html"}.get(path.suffix.lower(), "txt")
    return Document(id=doc_id, text=text, source=str(path), format=fmt, newline=newline)


def _files_under(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES
    )


def read_inputs(
    inputs: Iterable[str], encoding: str = "utf-8", stdin: BinaryIO | None = None
) -> list[Document]:
    """Read every input (file, folder, '-' for stdin, .jsonl) into documents, in a stable order.

    Raises InputError for missing paths, folders without text files, unreadable or binary data,
    and two inputs that would get the same document id.
    """
    docs: list[Document] = []
    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            text, newline = decode_bytes(stream.read(), "<stdin>", encoding)
            docs.append(Document(id="stdin", text=text, source="<stdin>", format="stdin", newline=newline))
            continue
        path = Path(item)
        if not path.exists():
            raise InputError(f"{item}: no such file or directory")
        if path.is_dir():
            files = _files_under(path)
            if not files:
                raise InputError(f"{item}: folder holds no .txt, .md or .jsonl files")
            for file in files:
                if file.suffix.lower() in JSONL_SUFFIXES:
                    docs.extend(documents_from_jsonl(file, encoding))
                else:
                    docs.append(_document_from_file(file, file.relative_to(path).with_suffix("").as_posix(), encoding))
        elif path.suffix.lower() in JSONL_SUFFIXES:
            docs.extend(documents_from_jsonl(path, encoding))
        else:
            docs.append(_document_from_file(path, path.stem, encoding))
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            raise InputError(f"two inputs have the document id '{doc.id}': {seen[doc.id]} and {doc.source}")
        seen[doc.id] = doc.source
    return docs


def atomic_write_text(path: Path, text: str, newline: str = "\n") -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one."""
    atomic_write_bytes(path, text.replace("\n", newline).encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should read like any file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
