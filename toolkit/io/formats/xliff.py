"""XLIFF 1.2 and 2.0 (.xlf, .xliff), with lxml's safe parser (no DTD, no entities, no network).

Each source (1.2: ``trans-unit/source``; 2.0: ``unit/segment/source``) is a block; unit ids,
notes, groups and every attribute are kept. Paired inline elements (1.2 ``<g>``, ``<mrk>``;
2.0 ``<pc>``, ``<mrk>``) are formatting: put back on the translated words. Standalone inline
elements (1.2 ``<x/>``, ``<bx/>``, ``<ex/>``, ``<ph>``, ``<bpt>``, ``<ept>``, ``<it>``; 2.0
``<ph/>``, ``<sc/>``, ``<ec/>``) stand in the translated text as protected placeholders and are
copied back verbatim, each exactly once. Targets are filled for machine review:
1.2 ``state="needs-review-translation"`` with ``state-qualifier="mt-suggestion"`` (both defined by
the 1.2 specification); 2.0 has no "needs review" state, so a segment gets ``state="translated"``
(not ``reviewed`` or ``final``) and ``subState="toolkit:mt"``. A target that already holds text,
and units marked ``translate="no"``, are kept and reported.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, parse_xml
from toolkit.options import DocumentOptions

NS12 = "urn:oasis:names:tc:xliff:document:1.2"
NS20 = "urn:oasis:names:tc:xliff:document:2.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PAIRED = {NS12: {"g", "mrk"}, NS20: {"pc", "mrk"}}
_STANDALONE = {NS12: {"x", "bx", "ex", "ph", "bpt", "ept", "it"}, NS20: {"ph", "sc", "ec", "cp"}}


@dataclass
class _Place:
    holder: Any  # 1.2: the trans-unit; 2.0: the segment
    source: Any
    elements: dict[str, Any]  # style → the inline element it stands for (paired shell or standalone)


@dataclass
class _State:
    root: Any
    ns: str
    places: list[_Place]
    target_lang: str | None


def _local(element: Any) -> str:
    return element.tag.split("}", 1)[-1] if isinstance(element.tag, str) else ""


def _placeholder(index: int) -> str:
    return f"{{tk{index}}}"


class Xliff:
    name = "xliff"
    extensions: tuple[str, ...] = (".xlf", ".xliff")

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        root = parse_xml(data, origin)
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        if _local(root) != "xliff" or ns not in (NS12, NS20):
            raise FormatError(f"{origin}: not XLIFF 1.2 or 2.0 (root element {root.tag})")
        blocks: list[Block] = []
        places: list[_Place] = []
        skipped: list[dict[str, str]] = []
        unit_tag = "trans-unit" if ns == NS12 else "unit"
        units = list(root.iter(f"{{{ns}}}{unit_tag}"))
        for unit in units:
            holders = [unit] if ns == NS12 else list(unit.iter(f"{{{ns}}}segment"))
            for number, holder in enumerate(holders, start=1):
                where = f"{unit_tag} {unit.get('id')}" + (f" segment {number}" if ns == NS20 else "")
                source = holder.find(f"{{{ns}}}source")
                target = holder.find(f"{{{ns}}}target")
                if source is None:
                    continue
                if any(a.get("translate") == "no" for a in [unit, *unit.iterancestors()]):
                    skipped.append({"where": where, "why": 'translate="no"'})
                    continue
                if target is not None and "".join(target.itertext()).strip():
                    skipped.append({"where": where, "why": "the target already holds a translation: kept"})
                    continue
                elements: dict[str, Any] = {}
                segments = self._segments(source, ns, elements, [])
                blocks.append(Block(segments, "unit", where))
                places.append(_Place(holder, source, elements))
        file_ = root.find(f"{{{ns}}}file")
        lang = (file_.get("target-language") if file_ is not None else None) if ns == NS12 else root.get("trgLang")
        counts = {"units": len(units), "files": len(root.findall(f"{{{ns}}}file")),
                  "groups": sum(1 for _ in root.iter(f"{{{ns}}}group")),
                  "inline_tags": sum(1 for s in root.iter(f"{{{ns}}}source") for e in s.iter() if e is not s)}
        if ns == NS20:
            counts["segments"] = sum(1 for _ in root.iter(f"{{{ns}}}segment"))
        return Structured(self.name, blocks, counts, _State(root, ns, places, lang), skipped)

    def _segments(self, element: Any, ns: str, elements: dict[str, Any], chain: list[str]) -> list[Segment]:
        style = "/".join(chain)
        out: list[Segment] = [Segment(element.text, style)] if element.text else []
        for child in element:
            name = _local(child)
            if not name:  # a comment or processing instruction: dropped from the translated text
                pass
            elif child.tag == f"{{{ns}}}{name}" and name in _PAIRED[ns]:
                key = f"pc{len(elements)}"
                elements[key] = child
                out += self._segments(child, ns, elements, [*chain, key])
            else:  # standalone (or unknown) inline element: a placeholder copied back verbatim
                key = f"ph{len(elements)}"
                elements[key] = child
                out.append(Segment(_placeholder(len(elements) - 1), f"{style}/{key}" if style else key))
            if child.tail:
                out.append(Segment(child.tail, style))
        return out

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        from lxml import etree

        state: _State = doc.state
        ns = state.ns
        for place, segments in zip(state.places, translated):
            target = place.holder.find(f"{{{ns}}}target")
            if target is None:
                target = etree.Element(f"{{{ns}}}target")
                place.source.addnext(target)
            else:
                for child in list(target):
                    target.remove(child)
            target.text = None
            target.tail = place.source.tail if target.getnext() is None and target.tail is None else target.tail
            missing = self._fill(target, segments, place.elements)
            for key in missing:  # a placeholder the translation lost: appended, never dropped
                target.append(self._copy(place.elements[key]))
                doc.write_warnings.append(f"inline element {key} of {place.holder.get('id')} lost its place: appended")
            if ns == NS12:
                target.set("state", "needs-review-translation")
                target.set("state-qualifier", "mt-suggestion")
                if state.target_lang:
                    target.set(XML_LANG, state.target_lang)
            else:
                place.holder.set("state", "translated")
                place.holder.set("subState", "toolkit:mt")
        return etree.tostring(state.root.getroottree(), xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _copy(element: Any) -> Any:
        clone = copy.deepcopy(element)
        clone.tail = None
        return clone

    def _fill(self, target: Any, segments: Sequence[Segment], elements: dict[str, Any]) -> list[str]:
        """Write ``segments`` into ``target``; returns the standalone elements never placed."""
        placed: set[str] = set()
        stack: list[tuple[str, Any]] = [("", target)]

        def append_text(text: str) -> None:
            node = stack[-1][1]
            if len(node):
                node[-1].tail = (node[-1].tail or "") + text
            else:
                node.text = (node.text or "") + text

        for segment in segments:
            keys = [k for k in segment.style.split("/") if k]
            paired = [k for k in keys if k.startswith("pc")]
            standalone = next((k for k in keys if k.startswith("ph")), None)
            keep = 0
            while keep + 1 < len(stack) and keep < len(paired) and stack[keep + 1][0] == paired[keep]:
                keep += 1
            del stack[keep + 1:]
            for key in paired[keep:]:
                shell = copy.deepcopy(elements[key])
                for child in list(shell):
                    shell.remove(child)
                shell.text = shell.tail = None
                stack[-1][1].append(shell)
                stack.append((key, shell))
            if standalone is not None:
                text = segment.text
                marker = _placeholder(int(standalone[2:]))
                if standalone not in placed and marker in text:
                    before, _, after = text.partition(marker)
                    append_text(before)
                    stack[-1][1].append(self._copy(elements[standalone]))
                    placed.add(standalone)
                    append_text(after)
                else:
                    append_text(text.replace(marker, ""))
            else:
                append_text(segment.text)
        return [k for k in elements if k.startswith("ph") and k not in placed]
