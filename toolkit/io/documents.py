"""Documents in and out: the readers for files, folders, stdin and JSONL, and atomic file writes."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from toolkit.errors import InputError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)
READABLE = ".txt, .md, .html, .htm, .jsonl or document (.docx, .pptx, .srt, .vtt, .po, .xlf, …)"  # for messages
_BINARY_SNIFF_BYTES = 8192
T = TypeVar("T")


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


# Byte-order marks, longest first (the UTF-32-LE mark begins with the UTF-16-LE one).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_UNICODE_FAMILIES = ("utf-8", "utf8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                     "utf-32-be")


def as_documents(items: Iterable[Document | str]) -> Iterator[Document]:
    """Documents from the Python API's inputs: a plain string becomes a document whose id is its
    position (``"0"``, ``"1"``, …), read like a text file."""
    for index, item in enumerate(items):
        if isinstance(item, Document):
            yield item
        elif isinstance(item, str):
            yield Document(id=str(index), text=item.replace("\r\n", "\n"), source=f"<text {index}>")
        else:
            raise TypeError(f"expected a str or a Document, got {type(item).__name__}")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# The ends of decoding errors; commands without --encoding (evaluate, review) replace them.
ENCODING_HINT = "convert the file or pass --encoding"
BINARY_HINT = "for UTF-16/32 text without a byte-order mark pass --encoding utf-16-le (or -be, utf-32-le, ...)"


def _binary(origin: str) -> InputError:
    return InputError(f"{origin}: looks like a binary file (NUL bytes found), expected text; {BINARY_HINT}")


def decode_bytes(data: bytes, origin: str, encoding: str = "utf-8") -> tuple[str, str]:
    """Decode ``data`` to text with LF newlines; return (text, original newline style).

    A byte-order mark decides between UTF-8, UTF-16 and UTF-32 when ``encoding`` is one of
    those; the text is decoded first and then checked for binary content (NUL characters), so
    UTF-16 files are read, not mistaken for binaries. Raises InputError naming ``origin``.
    """
    name = encoding.lower().replace("_", "-")
    try:
        import codecs

        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}'") from None
    if name in _UNICODE_FAMILIES:
        for bom, family in _BOMS:
            if data.startswith(bom):
                data, encoding = data[len(bom):], family
                break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
            raise _binary(origin) from None
        raise InputError(
            f"{origin}: not valid {encoding} at byte offset {exc.start} "
            f"(byte 0x{data[exc.start]:02x}); {ENCODING_HINT}"
        ) from None
    if "\x00" in text[:_BINARY_SNIFF_BYTES]:
        raise _binary(origin)
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, newline


def jsonl_records(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file: the one JSONL reader of the
    toolkit (inputs, references, hypotheses). Bad JSON or a non-object is an InputError naming
    the file and line."""
    for lineno, line in enumerate(read_text_file(path, encoding).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            # json's messages end where its position would follow ("Unterminated string starting at").
            where = "" if exc.msg.endswith(" at") else " at"
            raise InputError(f"{path}:{lineno}: invalid JSON ({exc.msg}{where} column {exc.colno})") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object")
        yield lineno, record


def documents_from_jsonl(path: Path, encoding: str = "utf-8", text_key: str = "text") -> list[Document]:
    docs = []
    for lineno, record in jsonl_records(path, encoding):
        if "id" not in record or text_key not in record:
            raise InputError(f"{path}:{lineno}: record lacks '{'id' if 'id' not in record else text_key}'")
        if not isinstance(record[text_key], str):
            raise InputError(f"{path}:{lineno}: '{text_key}' must be a string")
        if isinstance(record["id"], bool) or not isinstance(record["id"], (str, int)):
            raise InputError(f"{path}:{lineno}: 'id' must be a string or an integer")
        for field_name in ("id", text_key):
            try:
                str(record[field_name]).encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"{path}:{lineno}: '{field_name}' holds a lone surrogate "
                                 "(\\ud800-\\udfff escape), which is not text") from None
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


def _structured_document(path: Path, doc_id: str, in_folder: bool) -> Document:
    """A docx, pptx, srt, po, xliff… file as a Document of its translatable text (format: the
    format's name); translate_file writes it back. In a folder, an unreadable one is kept, blank,
    with its one-line reason in ``meta["unreadable"]`` (skipped with a warning: the rest runs)."""
    from toolkit.io.formats import format_for, structured_text

    fmt = format_for(str(path)).name
    try:
        text = structured_text(path)
    except InputError as exc:
        if not in_folder:
            raise
        return Document(id=doc_id, text="", source=str(path), format=fmt, meta={"unreadable": str(exc)})
    return Document(id=doc_id, text=text, source=str(path), format=fmt)


def _document_from_file(path: Path, doc_id: str, encoding: str, in_folder: bool = False) -> Document:
    from toolkit.io.formats import is_structured

    if is_structured(path):
        return _structured_document(path, doc_id, in_folder)
    text, newline = decode_bytes(_read_file(path), str(path), encoding)
    fmt = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}.get(path.suffix.lower(), "txt")
    return Document(id=doc_id, text=text, source=str(path), format=fmt, newline=newline)


def _toolkit_output(folder: Path, root: Path) -> bool:
    """A run folder of ours (or an unfinished one) below an input folder: never read as input,
    so that `--out inputs/out` does not feed a run its own earlier outputs."""
    for parent in [folder, *folder.parents]:
        if parent == root:
            return False
        # manifest.json: a finished run; .toolkit-run: a corpus run still writing, or interrupted.
        if parent.name.startswith(".") or (parent / "manifest.json").is_file() or (parent / ".toolkit-run").is_file():
            return True
    return False


def files_under(folder: Path) -> list[Path]:
    from toolkit.io.formats import is_structured

    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and (p.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES or is_structured(p))
        and not _toolkit_output(p.parent, folder)
    )


def read_inputs(
    inputs: Iterable[str], encoding: str = "utf-8", stdin: BinaryIO | None = None
) -> list[Document]:
    """Read every input (file, folder, '-' for stdin, .jsonl) into documents, in a stable order.

    A file's document id is its name without the extension (``x.txt`` → ``x``); below a folder
    input, its path relative to that folder (``sub/x``). Where two files would get the same id,
    those files' ids are their paths relative to the folder that holds every input (``a/x`` and
    ``b/x``), with the extension kept where that is still not enough (``x.txt`` and ``x.md``).

    Raises InputError for missing paths, folders without text files, unreadable or binary data,
    and two inputs that would still get the same document id (a JSONL record's id, stdin).
    """
    docs: list[Document] = []
    files: dict[int, tuple[Path, Path]] = {}  # index in docs → (input root, file), for text files
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
            found = files_under(path)
            if not found:
                raise InputError(f"{item}: folder holds no {READABLE} files")
            for file in found:
                if file.suffix.lower() in JSONL_SUFFIXES:
                    docs.extend(documents_from_jsonl(file, encoding))
                else:
                    files[len(docs)] = (path, file)
                    docs.append(_document_from_file(file, file.relative_to(path).with_suffix("").as_posix(), encoding,
                                                    in_folder=True))
        elif path.suffix.lower() in JSONL_SUFFIXES:
            docs.extend(documents_from_jsonl(path, encoding))
        else:
            files[len(docs)] = (path.parent, path)
            docs.append(_document_from_file(path, path.stem, encoding))
    _disambiguate(docs, files)
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            raise InputError(f"two inputs have the document id '{doc.id}': {seen[doc.id]} and {doc.source}")
        seen[doc.id] = doc.source
    return docs


def _disambiguate(docs: list[Document], files: dict[int, tuple[Path, Path]]) -> None:
    """Give text files that share an id the ids their paths tell apart (see read_inputs); ids
    that are unique already are kept, so existing runs keep their output names."""
    import os
    from collections import Counter

    for keep_suffix in (False, True):
        counts = Counter(doc.id for doc in docs)
        clashing = [i for i in files if counts[docs[i].id] > 1]
        if not clashing:
            return
        roots = [files[i][0].resolve() for i in clashing]
        try:
            common = Path(os.path.commonpath(roots))
        except ValueError:  # different drives: nothing to tell them apart by
            return
        for i in clashing:
            root, file = files[i]
            relative = root.resolve().relative_to(common) / file.relative_to(root)
            docs[i].id = (relative if keep_suffix else relative.with_suffix("")).as_posix()


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


def drop_blank(docs: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """Blank documents are skipped with a warning; a run with nothing left to do is an error."""
    kept = [d for d in docs if not d.is_blank]
    warnings = [f"{d.meta['unreadable']}: skipped" if "unreadable" in d.meta
                else f"{d.source}: empty or whitespace-only document, skipped" for d in docs if d.is_blank]
    if not kept:
        names = ", ".join(d.source for d in docs[:3])
        raise InputError(f"nothing to process: every input is empty or whitespace-only ({names})")
    return kept, warnings
