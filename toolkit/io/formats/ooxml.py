"""Word (.docx) and PowerPoint (.pptx) files, read and written at the level of their XML parts.

A .docx or .pptx is a zip of XML parts. Every member that holds no translatable text (images,
styles, numbering, layouts, masters, themes, relationships, …) is copied back byte for byte;
the text parts (docx: body, headers, footers, footnotes, endnotes, comments; pptx: slides and
their notes) are parsed with a safe parser, their paragraphs' text runs replaced, and serialised
again. A paragraph is one block unless something other than text sits between its runs (an
inline image, a field, a footnote reference, a tracked deletion): then each stretch of text
runs between such elements is a block, and those elements stay where they are.

A run's formatting is its properties element (``w:rPr`` / ``a:rPr``) and, in Word, the elements
that wrap it in the paragraph (a hyperlink, a tracked insertion, a smart tag): runs with equal
formatting are one style, so a sentence split into several runs by an editor's revision marks
is still one stretch of one style. Translated text is written as one run per style stretch,
each a copy of the first source run of that style (its properties kept).
"""

from __future__ import annotations

import copy
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.io.formats import base
from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, open_zip, parse_xml, read_member
from toolkit.options import DocumentOptions

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


@dataclass
class _Item:
    element: Any  # a text run (or, in pptx, a line break between runs)
    text: str
    style: str


@dataclass
class _BlockPlace:
    part: str
    paragraph: Any
    items: list[_Item]


@dataclass
class _State:
    data: bytes
    trees: dict[str, Any]  # part name → root element
    places: list[_BlockPlace]
    templates: dict[str, tuple[Any, list[Any]]]  # style → (first run of that style, its wrappers, outer first)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class _Ooxml:
    name = ""
    what = ""
    extensions: tuple[str, ...] = ()
    main_part = ""
    text_parts: re.Pattern[str]
    ns = ""

    def output_format(self) -> Format:
        return self

    # -- reading --------------------------------------------------------------------------

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        archive = open_zip(data, origin, self.what)
        names = archive.namelist()
        if self.main_part not in names:
            raise FormatError(f"{origin}: not a {self.what} (the container has no {self.main_part})")
        trees: dict[str, Any] = {}
        places: list[_BlockPlace] = []
        blocks: list[Block] = []
        templates: dict[str, tuple[Any, list[Any]]] = {}
        wrapper_ids: dict[int, int] = {}
        parts = sorted((n for n in names if self.text_parts.fullmatch(n)), key=_natural)
        for part in parts:
            root = parse_xml(read_member(archive, part, origin), f"{origin}: {part}")
            trees[part] = root
            for number, paragraph in enumerate(root.iter(_q(self.ns, "p"))):
                for items in self._stretches(paragraph, wrapper_ids, templates):
                    if not any(item.text.strip() for item in items):
                        continue
                    places.append(_BlockPlace(part, paragraph, items))
                    blocks.append(Block([Segment(i.text, i.style) for i in items], self._kind(part, paragraph),
                                        f"{part} paragraph {number + 1}"))
        counts = self._counts(archive, trees)
        skipped = [{"where": n, "why": "charts, diagrams and embedded objects are not translated"}
                   for n in names if re.match(r"(word|ppt)/(charts|diagrams|embeddings)/[^/]+\.(xml|bin|xlsx)$", n)]
        return Structured(self.name, blocks, counts, _State(data, trees, places, templates), skipped)

    def _kind(self, part: str, paragraph: Any) -> str:
        ancestors = {a.tag for a in paragraph.iterancestors()}
        if _q(self.ns, "tc") in ancestors:
            return "cell"
        return "paragraph"

    def _stretches(self, paragraph: Any, wrapper_ids: dict[int, int],
                   templates: dict[str, tuple[Any, list[Any]]]) -> list[list[_Item]]:
        raise NotImplementedError

    def _counts(self, archive: zipfile.ZipFile, trees: dict[str, Any]) -> dict[str, int]:
        raise NotImplementedError

    @staticmethod
    def _style_key(rpr: Any, wrappers: Sequence[Any], wrapper_ids: dict[int, int]) -> str:
        from lxml import etree

        ids = []
        for wrapper in wrappers:
            ids.append(str(wrapper_ids.setdefault(id(wrapper), len(wrapper_ids))))
        props = etree.tostring(rpr, method="c14n", exclusive=True).decode() if rpr is not None else ""
        return "/".join(ids) + "|" + props

    # -- writing --------------------------------------------------------------------------

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        from lxml import etree

        state: _State = doc.state
        for place, segments in zip(state.places, translated):
            self._replace(place, segments, state.templates)
        replaced = {}  # other parts: as they were
        for part in {place.part for place in state.places}:
            tree = state.trees[part].getroottree()
            replaced[part] = etree.tostring(tree, xml_declaration=True, encoding="UTF-8",
                                            standalone=tree.docinfo.standalone)
        return base.rewrite_zip(state.data, replaced)

    def _replace(self, place: _BlockPlace, segments: Sequence[Segment],
                 templates: dict[str, tuple[Any, list[Any]]]) -> None:
        paragraph = place.paragraph
        first = place.items[0].element
        anchor = first
        while anchor.getparent() is not paragraph:
            anchor = anchor.getparent()
        new: list[Any] = []
        open_wrappers: list[tuple[Any, Any]] = []  # (source wrapper, its copy)
        for segment in segments:
            run, wrappers = templates[segment.style]
            base.reopen_wrappers(open_wrappers, wrappers, new.append)
            for element in self._runs_for(run, segment.text, place):
                (open_wrappers[-1][1].append(element) if open_wrappers else new.append(element))
        for element in new:
            anchor.addprevious(element)
        emptied = set()
        for item in place.items:
            parent = item.element.getparent()
            parent.remove(item.element)
            emptied.add(parent)
        for parent in emptied:
            while parent is not paragraph and parent is not None and not any(
                    child.tag != _q(self.ns, "rPr") for child in parent if isinstance(child.tag, str)):
                grand = parent.getparent()
                grand.remove(parent)
                parent = grand

    def _runs_for(self, run: Any, text: str, place: _BlockPlace) -> list[Any]:
        raise NotImplementedError


def _natural(name: str) -> tuple[int, int, str]:
    """Reading order: a slide, then its notes (slide2.xml before slide10.xml); Word's body first."""
    if name.startswith("ppt/"):
        number = re.search(r"(\d+)\.xml$", name)
        return (int(number.group(1)) if number else 0, int("notesSlide" in name), name)
    return (int(name != "word/document.xml"), 0, name)


def _set_text(element: Any, text: str) -> None:
    element.text = text
    if text != text.strip() or "  " in text:
        element.set(XML_SPACE, "preserve")


class Docx(_Ooxml):
    name = "docx"
    what = "Word document (.docx)"
    extensions: tuple[str, ...] = (".docx",)
    main_part = "word/document.xml"
    text_parts = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml")
    ns = W
    # Children a text run may have; any other (a drawing, a field, a footnote reference) makes it a barrier.
    _TEXT_CHILDREN = frozenset(_q(W, t) for t in ("rPr", "t", "br", "tab", "lastRenderedPageBreak", "noBreakHyphen",
                                                  "softHyphen"))

    def _kind(self, part: str, paragraph: Any) -> str:
        for prefix, kind in (("word/header", "header"), ("word/footer", "footer"), ("word/footnotes", "footnote"),
                             ("word/endnotes", "endnote"), ("word/comments", "comment")):
            if part.startswith(prefix):
                return kind
        return super()._kind(part, paragraph)

    def _stretches(self, paragraph: Any, wrapper_ids: dict[int, int],
                   templates: dict[str, tuple[Any, list[Any]]]) -> list[list[_Item]]:
        stretches: list[list[_Item]] = [[]]
        p_tag = _q(W, "p")
        for run in paragraph.iter(_q(W, "r")):
            ancestors = []
            parent = run.getparent()
            while parent is not None and parent.tag != p_tag:
                ancestors.append(parent)
                parent = parent.getparent()
            if parent is not paragraph:
                continue  # a run of a nested paragraph (a text box): that paragraph is its own block
            text = self._text(run)
            if text is None:
                stretches.append([])
                continue
            wrappers = list(reversed(ancestors))
            style = self._style_key(run.find(_q(W, "rPr")), wrappers, wrapper_ids)
            templates.setdefault(style, (run, wrappers))
            stretches[-1].append(_Item(run, text, style))
        return [s for s in stretches if s]

    def _text(self, run: Any) -> str | None:
        """A text run's text (breaks as "\\n", tabs as "\\t"), or None for a run with other content."""
        parts = []
        for child in run:
            if not isinstance(child.tag, str):
                continue
            if child.tag not in self._TEXT_CHILDREN:
                return None
            if child.tag == _q(W, "t"):
                parts.append(child.text or "")
            elif child.tag == _q(W, "br"):
                if child.get(_q(W, "type")) not in (None, "textWrapping"):
                    return None  # a page or column break stays where it is
                parts.append("\n")
            elif child.tag == _q(W, "tab"):
                parts.append("\t")
            elif child.tag == _q(W, "noBreakHyphen"):
                parts.append("\u2011")
            elif child.tag == _q(W, "softHyphen"):
                parts.append("\u00ad")
        return "".join(parts)

    def _runs_for(self, run: Any, text: str, place: _BlockPlace) -> list[Any]:
        from lxml import etree

        element = copy.deepcopy(run)
        for child in list(element):
            if child.tag != _q(W, "rPr"):
                element.remove(child)
        for piece in re.split(r"([\n\t])", text):
            if piece == "\n":
                etree.SubElement(element, _q(W, "br"))
            elif piece == "\t":
                etree.SubElement(element, _q(W, "tab"))
            elif piece:
                _set_text(etree.SubElement(element, _q(W, "t")), piece.replace("\u2011", "-"))
        return [element]

    def _counts(self, archive: zipfile.ZipFile, trees: dict[str, Any]) -> dict[str, int]:
        def count(tag: str, ns: str = W, prefix: str = "word/") -> int:
            return sum(1 for name, root in trees.items() if name.startswith(prefix)
                       for _ in root.iter(_q(ns, tag)))

        names = archive.namelist()
        return {
            "paragraphs": count("p"), "tables": count("tbl"), "cells": count("tc"),
            "headers": sum(1 for n in trees if n.startswith("word/header")),
            "footers": sum(1 for n in trees if n.startswith("word/footer")),
            "footnotes": sum(1 for _ in trees["word/footnotes.xml"].iter(_q(W, "footnote")))
            if "word/footnotes.xml" in trees else 0,
            "comments": sum(1 for _ in trees["word/comments.xml"].iter(_q(W, "comment")))
            if "word/comments.xml" in trees else 0,
            "images": count("blip", A), "media": sum(1 for n in names if n.startswith("word/media/")),
            "sections": count("sectPr"), "members": len(names),
        }


class Pptx(_Ooxml):
    name = "pptx"
    what = "PowerPoint presentation (.pptx)"
    extensions: tuple[str, ...] = (".pptx",)
    main_part = "ppt/presentation.xml"
    text_parts = re.compile(r"ppt/(slides/slide\d+|notesSlides/notesSlide\d+)\.xml")
    ns = A

    def _kind(self, part: str, paragraph: Any) -> str:
        return "note" if part.startswith("ppt/notesSlides/") else super()._kind(part, paragraph)

    def _stretches(self, paragraph: Any, wrapper_ids: dict[int, int],
                   templates: dict[str, tuple[Any, list[Any]]]) -> list[list[_Item]]:
        stretches: list[list[_Item]] = [[]]
        for child in paragraph:
            if child.tag == _q(A, "r"):
                text = "".join(t.text or "" for t in child.iter(_q(A, "t")))
                style = self._style_key(child.find(_q(A, "rPr")), [], wrapper_ids)
                templates.setdefault(style, (child, []))
                stretches[-1].append(_Item(child, text, style))
            elif child.tag == _q(A, "br"):
                # A line break carries the style of the text before it (it has no text of its own).
                style = stretches[-1][-1].style if stretches[-1] else self._style_key(
                    child.find(_q(A, "rPr")), [], wrapper_ids)
                templates.setdefault(style, (child, []))
                stretches[-1].append(_Item(child, "\n", style))
            elif child.tag in (_q(A, "fld"),):
                stretches.append([])  # a field (slide number, date) stays where it is
        return [s for s in stretches if s]

    def _runs_for(self, run: Any, text: str, place: _BlockPlace) -> list[Any]:
        from lxml import etree

        if run.tag == _q(A, "br"):  # a style first met on a line break: a plain run with its properties
            template = etree.Element(_q(A, "r"))
            if run.find(_q(A, "rPr")) is not None:
                template.append(copy.deepcopy(run.find(_q(A, "rPr"))))
            etree.SubElement(template, _q(A, "t"))
            run = template
        out = []
        for index, piece in enumerate(text.split("\n")):
            if index:
                brk = etree.Element(_q(A, "br"))
                if run.find(_q(A, "rPr")) is not None:
                    brk.append(copy.deepcopy(run.find(_q(A, "rPr"))))
                out.append(brk)
            if piece:
                element = copy.deepcopy(run)
                for child in list(element):
                    if child.tag != _q(A, "rPr"):
                        element.remove(child)
                _set_text(etree.SubElement(element, _q(A, "t")), piece)
                out.append(element)
        return out

    def _counts(self, archive: zipfile.ZipFile, trees: dict[str, Any]) -> dict[str, int]:
        slides = {n: r for n, r in trees.items() if n.startswith("ppt/slides/")}

        def count(tag: str, ns: str, roots: dict[str, Any]) -> int:
            return sum(1 for root in roots.values() for _ in root.iter(_q(ns, tag)))

        return {
            "slides": len(slides), "notes": len(trees) - len(slides),
            "shapes": sum(count(t, P, slides) for t in ("sp", "pic", "graphicFrame", "grpSp", "cxnSp")),
            "pictures": count("pic", P, slides), "paragraphs": count("p", A, trees),
            "tables": count("tbl", A, slides), "cells": count("tc", A, slides),
            "members": len(archive.namelist()),
        }
