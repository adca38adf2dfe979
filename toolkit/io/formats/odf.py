"""OpenDocument text (.odt) and presentations (.odp), read and written at the XML level.

As for Office files (toolkit.io.formats.ooxml): every member but ``content.xml`` (and, for a
text document, ``styles.xml``, whose headers and footers are translated) is copied back byte for
byte. A paragraph (``text:p``, ``text:h``) is mixed content: its text, ``text:span`` and
``text:a`` (formatting: the style and link chain of each stretch of text), spaces, tabs and line
breaks make its translatable stretches; any other element inside it (a footnote, a frame, a
field, a bookmark) stays in place, between stretches. Slides and their notes, layouts untouched.
Read with lxml (the safe parser) rather than odfpy, whose element API does not expose mixed
content in document order; odfpy builds the test files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.io.formats import base
from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, open_zip, parse_xml, read_member
from toolkit.options import DocumentOptions

TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
PRESENTATION = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"
_WRAPPERS = frozenset({f"{{{TEXT}}}span", f"{{{TEXT}}}a"})
_PARAGRAPHS = (f"{{{TEXT}}}p", f"{{{TEXT}}}h")


@dataclass
class _Paragraph:
    part: str
    element: Any
    items: list[tuple[str, Any, list[Any]]]  # ("text", str, chain) | ("element", element, chain)
    blocks: dict[int, int]  # stretch index → block index


def _walk(node: Any, chain: list[Any], items: list[tuple[str, Any, list[Any]]]) -> None:
    if node.text:
        items.append(("text", node.text, chain))
    for child in node:
        tag = child.tag
        if not isinstance(tag, str):
            pass  # a comment: dropped
        elif tag in _WRAPPERS:
            _walk(child, [*chain, child], items)
        elif tag == f"{{{TEXT}}}s":
            items.append(("text", " " * _space_count(child.get(f"{{{TEXT}}}c", "1")), chain))
        elif tag == f"{{{TEXT}}}tab":
            items.append(("text", "\t", chain))
        elif tag == f"{{{TEXT}}}line-break":
            items.append(("text", "\n", chain))
        elif tag == f"{{{TEXT}}}soft-page-break":
            pass  # a layout hint of the last rendering: the translation reflows anyway
        else:
            items.append(("element", child, chain))
        if child.tail:
            items.append(("text", child.tail, chain))


# A text:s stands for this many spaces at most: its count is an attribute, so a file of a few
# bytes could otherwise ask for gigabytes of spaces, past the zip container's limits.
MAX_SPACES = 10_000


def _space_count(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_SPACES:
        raise FormatError(f"a text:s element with text:c={value[:20]!r}: expected a count of spaces from 1 to "
                          f"{MAX_SPACES}")
    return int(value)


def _stretches(items: list[tuple[str, Any, list[Any]]]) -> list[list[tuple[str, Any, list[Any]]]]:
    out: list[list[tuple[str, Any, list[Any]]]] = [[]]
    for item in items:
        if item[0] == "element":
            out.append([])
        else:
            out[-1].append(item)
    return out


class _Odf:
    name = ""
    what = ""
    mimetype = ""
    extensions: tuple[str, ...] = ()
    parts: tuple[str, ...] = ("content.xml",)

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        archive = open_zip(data, origin, self.what)
        names = archive.namelist()
        if "content.xml" not in names:
            raise FormatError(f"{origin}: not an {self.what} (the container has no content.xml)")
        if "mimetype" in names and read_member(archive, "mimetype", origin).strip() != self.mimetype.encode():
            found = read_member(archive, "mimetype", origin)[:80].decode("ascii", "replace")
            raise FormatError(f"{origin}: not an {self.what} (its mimetype is {found})")
        if "META-INF/manifest.xml" in names and b"encryption-data" in read_member(archive, "META-INF/manifest.xml",
                                                                                   origin):
            raise FormatError(f"{origin}: an encrypted (password-protected) OpenDocument file; save it unprotected")
        trees: dict[str, Any] = {}
        paragraphs: list[_Paragraph] = []
        blocks: list[Block] = []
        wrapper_ids: dict[int, int] = {}
        chains: dict[str, list[Any]] = {}
        for part in self.parts:
            if part not in names:
                continue
            root = parse_xml(read_member(archive, part, origin), f"{origin}: {part}")
            trees[part] = root
            for number, element in enumerate(e for e in root.iter(*_PARAGRAPHS) if self._wanted(part, e)):
                items: list[tuple[str, Any, list[Any]]] = []
                try:
                    _walk(element, [], items)
                except FormatError as exc:
                    raise FormatError(f"{origin}: {part} paragraph {number + 1}: {exc}") from None
                place = _Paragraph(part, element, items, {})
                for index, stretch in enumerate(_stretches(items)):
                    if not any(str(text).strip() for _, text, _ in stretch):
                        continue
                    segments: list[Segment] = []
                    for _, text, chain in stretch:
                        style = "/".join(str(wrapper_ids.setdefault(id(w), len(wrapper_ids))) for w in chain)
                        chains.setdefault(style, chain)
                        if segments and segments[-1].style == style:
                            segments[-1].text += text
                        else:
                            segments.append(Segment(text, style))
                    place.blocks[index] = len(blocks)
                    blocks.append(Block(segments, self._kind(part, element), f"{part} paragraph {number + 1}"))
                if place.blocks:
                    paragraphs.append(place)
        return Structured(self.name, blocks, self._counts(trees, names), (data, trees, paragraphs, chains))

    def _wanted(self, part: str, element: Any) -> bool:
        if part == "content.xml":
            return True
        tags = {a.tag for a in element.iterancestors()}
        return bool(tags & {f"{{{STYLE}}}{t}" for t in ("header", "footer", "header-left", "footer-left",
                                                        "header-first", "footer-first")})

    def _kind(self, part: str, element: Any) -> str:
        tags = {a.tag for a in element.iterancestors()}
        if part == "styles.xml":
            return "header/footer"
        if f"{{{PRESENTATION}}}notes" in tags:
            return "note"
        if f"{{{TEXT}}}note" in tags:
            return "footnote"
        if f"{{{TABLE}}}table-cell" in tags:
            return "cell"
        return "heading" if element.tag == f"{{{TEXT}}}h" else "paragraph"

    def _counts(self, trees: dict[str, Any], names: list[str]) -> dict[str, int]:
        def count(tag: str) -> int:
            return sum(1 for root in trees.values() for _ in root.iter(tag))

        return {"paragraphs": count(f"{{{TEXT}}}p"), "headings": count(f"{{{TEXT}}}h"),
                "tables": count(f"{{{TABLE}}}table"), "cells": count(f"{{{TABLE}}}table-cell"),
                "lists": count(f"{{{TEXT}}}list"), "notes": count(f"{{{TEXT}}}note"),
                "frames": count(f"{{{DRAW}}}frame"), "images": count(f"{{{DRAW}}}image"),
                "pages": count(f"{{{DRAW}}}page"), "members": len(names)}

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        from lxml import etree

        data, trees, paragraphs, chains = doc.state
        for place in paragraphs:
            self._rebuild(place, translated, chains)
        return base.rewrite_zip(data, {part: etree.tostring(trees[part].getroottree(), xml_declaration=True, encoding="UTF-8")
                                  for part in {place.part for place in paragraphs}})  # other parts: as they were

    def _rebuild(self, place: _Paragraph, translated: Sequence[list[Segment]], chains: dict[str, list[Any]]) -> None:
        from lxml import etree

        entries: list[tuple[str, Any, list[Any]]] = []
        barriers = [item for item in place.items if item[0] == "element"]
        for index, stretch in enumerate(_stretches(place.items)):
            if index:
                entries.append(barriers[index - 1])
            if index in place.blocks:
                entries += [("text", s.text, chains[s.style]) for s in translated[place.blocks[index]]]
            else:
                entries += stretch
        paragraph = place.element
        paragraph.text = None
        for child in list(paragraph):
            paragraph.remove(child)
        stack: list[tuple[Any, Any]] = []  # (source wrapper, its new shell)

        def top() -> Any:
            return stack[-1][1] if stack else paragraph

        def add_text(text: str) -> None:
            for piece in re.split(r"(\n|\t| {2,})", text):
                if not piece:
                    continue
                node = top()
                if piece in ("\n", "\t"):
                    etree.SubElement(node, f"{{{TEXT}}}{'line-break' if piece == chr(10) else 'tab'}")
                elif piece.startswith("  "):
                    _append_text(node, " ")
                    etree.SubElement(node, f"{{{TEXT}}}s").set(f"{{{TEXT}}}c", str(len(piece) - 1))
                else:
                    _append_text(node, piece)

        for kind, payload, chain in entries:
            base.reopen_wrappers(stack, chain, paragraph.append)
            if kind == "text":
                add_text(payload)
            else:
                payload.tail = None
                top().append(payload)  # the original element, moved: nested paragraphs stay reachable


def _append_text(node: Any, text: str) -> None:
    if len(node):
        node[-1].tail = (node[-1].tail or "") + text
    else:
        node.text = (node.text or "") + text


class Odt(_Odf):
    name = "odt"
    what = "OpenDocument text (.odt)"
    mimetype = "application/vnd.oasis.opendocument.text"
    extensions: tuple[str, ...] = (".odt",)
    parts = ("content.xml", "styles.xml")


class Odp(_Odf):
    name = "odp"
    what = "OpenDocument presentation (.odp)"
    mimetype = "application/vnd.oasis.opendocument.presentation"
    extensions: tuple[str, ...] = (".odp",)
