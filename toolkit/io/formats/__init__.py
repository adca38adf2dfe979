"""The registry of structured file formats: extension → reader/writer (toolkit.io.formats.base).

Plain text, Markdown, HTML and JSONL stay with toolkit.io.documents; the formats here are read
into blocks, translated block by block (toolkit.tasks.documents) and written back in their own
format. Their libraries are the ``documents`` extra: ``pip install 'toolkit[documents]'``.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from toolkit.errors import InputError
from toolkit.io.formats.base import Format, FormatError, Structured
from toolkit.options import DocumentOptions

__all__ = ["FORMATS", "SUFFIXES", "Format", "FormatError", "Structured", "format_for", "is_structured",
           "read_structured", "structured_text"]


def _formats() -> dict[str, Format]:
    from toolkit.io.formats.epub import Epub
    from toolkit.io.formats.gettext import Gettext
    from toolkit.io.formats.odf import Odp, Odt
    from toolkit.io.formats.ooxml import Docx, Pptx
    from toolkit.io.formats.pdf import Pdf
    from toolkit.io.formats.subtitles import Subtitles
    from toolkit.io.formats.xliff import Xliff

    found: list[Format] = [Subtitles("srt"), Subtitles("vtt"), Gettext(), Docx(), Pptx(), Xliff(), Pdf(), Epub(), Odt(), Odp()]
    return {f.name: f for f in found}


FORMATS: dict[str, Format] = _formats()
SUFFIXES: dict[str, str] = {ext: f.name for f in FORMATS.values() for ext in f.extensions}


def is_structured(path: str | PurePath) -> bool:
    return PurePath(path).suffix.lower() in SUFFIXES


def format_for(origin: str, forced: str | None = None) -> Format:
    """The format named by ``forced`` (``--format``), else by the file's extension."""
    if forced:
        name = SUFFIXES.get(f".{forced.lower().lstrip('.')}", forced.lower())
        if name not in FORMATS:
            raise InputError(f"unknown document format '{forced}' (known: {', '.join(sorted(FORMATS))})")
        return FORMATS[name]
    suffix = PurePath(origin).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{origin}: no reader for '{suffix or 'no extension'}' files "
                         f"(documents: {', '.join(sorted(SUFFIXES))}; text: .txt .md .html .jsonl)")
    return FORMATS[SUFFIXES[suffix]]


def read_structured(fmt: Format, data: bytes, origin: str, options: DocumentOptions | None = None) -> Structured:
    """``data`` read by ``fmt``; any failure of its library is one FormatError line naming the file."""
    try:
        return fmt.read(data, origin, options or DocumentOptions())
    except InputError:
        raise
    except (MemoryError, RecursionError):
        raise FormatError(f"{origin}: too large or too deeply nested to read as {fmt.name}") from None
    except Exception as exc:  # a library's own parse error on a malformed file
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FormatError(f"{origin}: cannot be read as {fmt.name} ({detail})") from None


def structured_text(source: Path, options: DocumentOptions | None = None) -> str:
    """A structured file's translatable text, one block a paragraph (summaries, detection)."""
    fmt = format_for(str(source), (options or DocumentOptions()).format)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from None
    return read_structured(fmt, data, str(source), options).text()
