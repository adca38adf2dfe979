"""The model every document format reads into and writes from, and the guards all of them share.

A format's reader turns the file's bytes into a ``Structured`` document: its translatable
``Block``s in reading order (a paragraph, a table cell, a cue, a msgid, a trans-unit source…),
each a list of ``Segment``s — text with an opaque style key standing for its inline formatting
(a run's properties, a hyperlink, an inline XLIFF tag) — plus whatever the writer needs to put
the file back together (``state``). The writer gets, per block, the translated segments and
returns the file's bytes; everything that is not a block's text is written back as it was read.
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.errors import InputError
from toolkit.options import DocumentOptions

# Zip containers (docx, pptx, odt, odp, epub): refused before parsing when the declared sizes
# exceed these limits, so a small file expanding to gigabytes never reaches a parser.
MAX_EXPANDED_BYTES = 512 * 1024 * 1024
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # a member's declared size / its compressed size (text XML compresses ~10x)
MAX_MEMBERS = 10_000


class FormatError(InputError):
    """A file that cannot be read as its format (corrupt, encrypted, unsafe)."""


@dataclass
class Segment:
    """A stretch of a block's text and the style key of its formatting (format-specific; equal
    keys mean equal formatting)."""

    text: str
    style: str = ""


@dataclass
class Block:
    """One translatable unit of a file. ``kind`` names the structure it counts towards
    (paragraph, cell, cue, message, unit, note…); ``where`` locates it for the report."""

    segments: list[Segment]
    kind: str
    where: str
    translate: bool = True
    why_not: str = ""  # when not translated: the reason, for the report
    max_line: int = 0  # subtitles: the line budget the writer re-wraps to (0: none)
    markup: str = "txt"  # the Document format the text is translated as: "html" for an EPUB chapter

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


@dataclass
class Structured:
    """A file read by its format: the blocks, structure counts, and the writer's state."""

    format: str
    blocks: list[Block]
    counts: dict[str, int]
    state: Any = None
    skipped: list[dict[str, str]] = field(default_factory=list)  # elements never offered for translation
    write_warnings: list[str] = field(default_factory=list)  # what the writer had to bend (a cue's lines)

    def text(self) -> str:
        """The file's translatable text, one block per paragraph (summaries, language detection)."""
        return "\n\n".join(b.text.replace("\n", " ").strip() for b in self.blocks if b.text.strip())


class Format(Protocol):
    """A reader/writer pair. ``write`` gets one list of segments per block, in block order."""

    name: str
    extensions: tuple[str, ...]

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured: ...

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes: ...

    def output_format(self) -> Format:
        """The format of what ``write`` returns (itself, but a PDF is written as Markdown)."""
        ...


def decode_text(data: bytes, origin: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); newlines are kept as they are."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{origin}: not valid UTF-8 at byte offset {exc.start}") from None


def open_zip(data: bytes, origin: str, what: str) -> zipfile.ZipFile:
    """A zip container checked before anything is decompressed: not a zip, truncated, encrypted,
    or declaring an expansion beyond the limits → FormatError (one line)."""
    if data[:5] == b"%PDF-":
        raise FormatError(f"{origin}: this is a PDF file, not a {what}: rename it to .pdf")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FormatError(f"{origin}: an encrypted (password-protected) or legacy binary Office file; "
                          f"save it unprotected as {what}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise FormatError(f"{origin}: not a valid {what} (corrupt or truncated zip container)") from None
    if len(members) > MAX_MEMBERS:
        raise FormatError(f"{origin}: {len(members)} members in the container, over the limit of {MAX_MEMBERS}")
    total = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise FormatError(f"{origin}: an encrypted member ({info.filename}): decrypt the file first")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_MEMBER_BYTES or (info.file_size > 1024 * 1024 and ratio > MAX_RATIO):
            raise FormatError(f"{origin}: {info.filename} declares {info.file_size} bytes from {info.compress_size} "
                              f"(ratio {ratio:.0f}): refused as a possible zip bomb (limits: {MAX_MEMBER_BYTES} bytes "
                              f"a member, ratio {MAX_RATIO})")
    if total > MAX_EXPANDED_BYTES:
        raise FormatError(f"{origin}: the container declares {total} bytes once expanded, over the limit of "
                          f"{MAX_EXPANDED_BYTES}: refused as a possible zip bomb")
    # Every member decompressed once, in chunks, never past its declared size (zipfile stops
    # there): a member that lies about its size or is damaged fails its CRC here, not half-way
    # through writing the translation.
    try:
        bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise FormatError(f"{origin}: not a valid {what} (corrupt zip container: {exc})") from None
    if bad is not None:
        raise FormatError(f"{origin}: not a valid {what} (corrupt member {bad})")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, origin: str) -> bytes:
    """A member's bytes, read with a bound: a member larger than it declared is refused."""
    try:
        info = archive.getinfo(name)
        with archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except KeyError:
        raise FormatError(f"{origin}: the container lacks {name}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise FormatError(f"{origin}: corrupt member {name} ({exc})") from None
    if len(data) > info.file_size:
        raise FormatError(f"{origin}: {name} is larger than its declared size: refused")
    return data


def rewrite_zip(data: bytes, replaced: Mapping[str, bytes]) -> bytes:
    """The zip container ``data`` with the members named in ``replaced`` given new bytes; every
    other member is copied as it was, in the same order, with the same entry (date, compression)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, replaced[info.filename] if info.filename in replaced else source.read(info))
    return buffer.getvalue()


def reopen_wrappers(stack: list[tuple[Any, Any]], chain: Sequence[Any], attach: Callable[[Any], None]) -> None:
    """Make the open inline wrappers (a hyperlink, a span, a tracked insertion) fit the next piece
    of translated text, for writers that rebuild a paragraph piece by piece.

    ``stack`` holds the wrappers open at the writer's position, outer first, each with its shell
    (the empty copy that receives the new content); ``chain`` is the next piece's wrappers, outer
    first. Wrappers both share stay open (consecutive pieces of one link are one link), the others
    are closed, and the missing ones are opened as shells inside the innermost open one, or given
    to ``attach`` (the paragraph's level). The piece then goes into ``stack[-1][1]`` (or the
    paragraph, when ``stack`` is empty)."""
    keep = 0
    while keep < len(stack) and keep < len(chain) and stack[keep][0] is chain[keep]:
        keep += 1
    del stack[keep:]
    for wrapper in chain[keep:]:
        shell = copy.copy(wrapper)
        for child in list(shell):
            shell.remove(child)
        shell.text = shell.tail = None  # the source's text and tail belong to the source's place
        (stack[-1][1].append(shell) if stack else attach(shell))
        stack.append((wrapper, shell))


def check_xml(data: bytes, origin: str) -> None:
    """Refuse XML with a DTD (entities, external or expanding: billion laughs, XXE) before any
    parser sees it; Office, XLIFF and EPUB content never needs one."""
    defused = require("defusedxml")
    safe_tree = require("defusedxml.ElementTree")
    try:
        safe_tree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defused.DefusedXmlException as exc:
        raise FormatError(f"{origin}: XML with entity declarations or external references ({type(exc).__name__}): "
                          "refused, never resolved") from None
    except Exception as exc:  # ParseError: malformed XML
        raise FormatError(f"{origin}: malformed XML ({exc})") from None


def safe_xml_parser() -> Any:
    """lxml parser that never resolves entities, never reaches the network, bounds tree depth."""
    etree = require("lxml.etree")
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           remove_blank_text=False)


def parse_xml(data: bytes, origin: str) -> Any:
    """An lxml element tree of ``data``, checked by ``check_xml`` first."""
    etree = require("lxml.etree")
    check_xml(data, origin)
    try:
        return etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"{origin}: malformed XML ({exc})") from None


def require(module: str) -> Any:
    """Import an optional dependency of the documents extra, or one line naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reading this format needs the {module.split('.')[0]} package (not installed): "
                         "pip install 'toolkit[documents]'") from None

