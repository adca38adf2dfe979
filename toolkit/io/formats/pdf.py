"""PDF in, Markdown out (pypdf): the text layer in reading order, translated; the layout is not
rebuilt. Each page's text is cut into paragraphs at blank lines (lines of a paragraph joined,
words hyphenated at a line end rejoined); the output is Markdown, one ``<!-- page N -->`` comment
before each page's paragraphs, so a page of the translation can be found against the original.
Lost: layout, fonts, columns as columns (pypdf's reading order follows the content stream),
images, tables as tables, links. A PDF without a text layer (a scan) is refused: OCR is not
supported. An encrypted PDF is read only when it opens with an empty password.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, decode_text, require
from toolkit.options import DocumentOptions

_PAGE = re.compile(r"^<!-- page (\d+) -->$", re.M)


def _paragraphs(text: str) -> list[str]:
    out = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        joined = ""
        for line in lines:
            if joined.endswith("-") and joined[-2:-1].isalpha() and line[:1].islower():
                joined = joined[:-1] + line
            else:
                joined = f"{joined} {line}" if joined else line
        if joined:
            out.append(joined)
    return out


class PdfMarkdown:
    """What a PDF is written as: Markdown with a comment line before each page."""

    name = "pdf-markdown"
    extensions: tuple[str, ...] = (".md",)

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        text = decode_text(data, origin)
        pages = _PAGE.findall(text)
        paragraphs = [p for p in re.split(r"\n\s*\n", _PAGE.sub("", text)) if p.strip()]
        blocks = [Block([Segment(p.strip())], "paragraph", f"paragraph {i + 1}") for i, p in enumerate(paragraphs)]
        return Structured(self.name, blocks, {"pages": len(pages), "paragraphs": len(paragraphs)})

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        raise NotImplementedError("Markdown output is written by the PDF format")


class Pdf:
    name = "pdf"
    extensions: tuple[str, ...] = (".pdf",)

    def output_format(self) -> Format:
        return PdfMarkdown()

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        pypdf = require("pypdf")
        if not data.startswith(b"%PDF-"):
            raise FormatError(f"{origin}: not a PDF file (no %PDF- header)")
        try:
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise FormatError(f"{origin}: an encrypted (password-protected) PDF: decrypt it first")
            pages = [page.extract_text() or "" for page in reader.pages]
        except FormatError:
            raise
        except pypdf.errors.FileNotDecryptedError:
            raise FormatError(f"{origin}: an encrypted (password-protected) PDF: decrypt it first") from None
        except (pypdf.errors.PdfReadError, pypdf.errors.PdfStreamError, ValueError, KeyError) as exc:
            raise FormatError(f"{origin}: not a readable PDF ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})") from None
        if not any(page.strip() for page in pages):
            raise FormatError(f"{origin}: no text layer ({len(pages)} page(s) of images?); OCR is not supported")
        blocks: list[Block] = []
        layout: list[tuple[int, int]] = []  # per page: (first block, end)
        for number, text in enumerate(pages, start=1):
            first = len(blocks)
            blocks += [Block([Segment(p)], "paragraph", f"page {number} paragraph {i + 1}")
                       for i, p in enumerate(_paragraphs(text))]
            layout.append((first, len(blocks)))
        skipped = [{"where": f"page {n}", "why": "no text on this page (an image or a scan?); OCR is not supported"}
                   for n, text in enumerate(pages, start=1) if not text.strip()]
        return Structured(self.name, blocks, {"pages": len(pages), "paragraphs": len(blocks)}, layout, skipped)

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        layout: Any = doc.state
        parts = []
        for number, (first, end) in enumerate(layout, start=1):
            parts.append(f"<!-- page {number} -->")
            parts += [" ".join("".join(s.text for s in translated[i]).split()) for i in range(first, end)]
        return ("\n\n".join(parts) + "\n").encode("utf-8")
