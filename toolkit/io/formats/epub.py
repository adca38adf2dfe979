"""EPUB (2 and 3): each XHTML content document of the package (chapters, and the EPUB 3
navigation document) is translated through the HTML path (toolkit.text.html: text and alt/title
translated, tags, scripts, styles and code kept byte for byte, inline tags protected); every other
member — the package document (spine, manifest, metadata), toc.ncx, images, fonts, CSS — is
copied back byte for byte, ``mimetype`` first and stored as the specification requires.

Read with zipfile + lxml rather than EbookLib, which is AGPL-licensed. Not translated (reported):
the metadata (title, description) and the EPUB 2 toc.ncx labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from posixpath import dirname, join, normpath
from typing import Any
from urllib.parse import unquote

from toolkit.io.formats.base import (
    Block,
    Format,
    FormatError,
    Segment,
    Structured,
    check_xml,
    decode_text,
    open_zip,
    parse_xml,
    read_member,
    rewrite_zip,
)
from toolkit.options import DocumentOptions

OPF = "http://www.idpf.org/2007/opf"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
_START_TAG = re.compile(rb"<[A-Za-z]")


class Epub:
    name = "epub"
    extensions: tuple[str, ...] = (".epub",)

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        archive = open_zip(data, origin, "EPUB book (.epub)")
        names = set(archive.namelist())
        if "META-INF/container.xml" not in names:
            raise FormatError(f"{origin}: not an EPUB book (no META-INF/container.xml)")
        container = parse_xml(read_member(archive, "META-INF/container.xml", origin), f"{origin}: container.xml")
        rootfile = container.find(f".//{{{CONTAINER}}}rootfile")
        if rootfile is None or not rootfile.get("full-path"):
            raise FormatError(f"{origin}: META-INF/container.xml names no package document")
        opf_path = rootfile.get("full-path")
        opf = parse_xml(read_member(archive, opf_path, origin), f"{origin}: {opf_path}")
        base = dirname(opf_path)
        items = {item.get("id"): item for item in opf.iter(f"{{{OPF}}}item")}
        spine = [ref.get("idref") for ref in opf.iter(f"{{{OPF}}}itemref")]
        chapters = []
        for item_id, item in items.items():
            if item.get("media-type") == "application/xhtml+xml":
                # An href is a URL: "Chapitre%201.xhtml" names the member "Chapitre 1.xhtml".
                path = normpath(join(base, unquote(item.get("href", "").split("#", 1)[0])))
                if path not in names:
                    raise FormatError(f"{origin}: the package lists {path}, which the container lacks")
                chapters.append((spine.index(item_id) if item_id in spine else len(spine), path))
        chapters.sort()
        blocks = []
        elements = 0
        for _, path in chapters:
            raw = read_member(archive, path, origin)
            check_xml(raw, f"{origin}: {path}")
            elements += len(_START_TAG.findall(raw))
            blocks.append(Block([Segment(decode_text(raw, f"{origin}: {path}"))], "chapter", path, markup="html"))
        skipped = [{"where": opf_path, "why": "package metadata (title, author, description) is kept as it is"}]
        skipped += [{"where": n, "why": "EPUB 2 navigation labels (toc.ncx) are not translated"}
                    for n in sorted(names) if n.endswith(".ncx")]
        counts = {"spine": len(spine), "chapters": len(chapters), "elements": elements, "members": len(names),
                  "images": sum(1 for i in items.values() if (i.get("media-type") or "").startswith("image/")),
                  "metadata": sum(1 for m in opf.iter() if isinstance(m.tag, str) and m.tag.startswith(
                      "{http://purl.org/dc/elements/1.1/}"))}
        return Structured(self.name, blocks, counts, (data, [path for _, path in chapters]), skipped)

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        state: Any = doc.state
        data, paths = state
        replaced = {path: "".join(s.text for s in segments).encode("utf-8") for path, segments in zip(paths, translated)}
        return rewrite_zip(data, replaced)
