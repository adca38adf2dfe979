"""HTML documents: text nodes and the ``alt`` / ``title`` attributes are translated; tags, other
attributes, comments, doctypes, scripts, styles and code are kept byte for byte.

The stdlib parser (``html.parser``) finds the events; each event's source text runs from its
position to the next event's, so the document is cut into consecutive slices with nothing lost.
Text and inline tags (``<b>``, ``<a href>``, ``<br>``, …) between two block boundaries form one
run, segmented into sentences like a paragraph of text, with the inline tags as protected spans;
block tags, comments and untranslated elements end a run. Entities are decoded for the model
(``&eacute;`` → ``é``) and model outputs are escaped again, so the output stays well-formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from toolkit.text.protect import Span, find_protected

# Elements whose content is never translated (scripts, styles, code), and the inline elements that
# may sit inside a sentence; every other tag ends a run of text.
UNTRANSLATED = frozenset({"script", "style", "code", "pre", "kbd", "samp", "var", "textarea", "template",
                          "svg", "math", "noscript"})
INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "br", "cite", "data", "dfn", "em", "font", "i", "ins", "del",
                    "label", "mark", "q", "s", "small", "span", "strong", "sub", "sup", "time", "u", "wbr"})
TRANSLATED_ATTRIBUTES = ("alt", "title")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
_ATTRIBUTE = re.compile(r"""\s(alt|title)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class Slice:
    """A consecutive slice of the source: ``kind`` is text, inline (a tag inside a sentence),
    attribute (the value of a translated attribute) or verbatim."""

    start: int
    end: int
    kind: str


class _Slicer(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.events: list[tuple[int, str, str | None]] = []  # (offset, kind, tag)
        self.skip: list[str] = []  # open elements whose content stays untranslated

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _starts_skipping(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        values = dict(attrs)
        return (tag in UNTRANSLATED or (values.get("translate") or "").lower() == "no"
                or "notranslate" in (values.get("class") or "").split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        skipping = bool(self.skip) or self._starts_skipping(tag, attrs)
        self.events.append((self._offset(), "verbatim" if skipping else "tag", tag))
        if skipping and tag not in _VOID:
            self.skip.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        skipping = bool(self.skip) or self._starts_skipping(tag, attrs)
        self.events.append((self._offset(), "verbatim" if skipping else "tag", tag))

    def handle_endtag(self, tag: str) -> None:
        self.events.append((self._offset(), "verbatim" if self.skip else "tag", tag))
        if self.skip and tag in self.skip:
            while self.skip and self.skip.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.events.append((self._offset(), "verbatim" if self.skip else "text", None))

    def handle_entityref(self, name: str) -> None:
        self.handle_data(name)

    def handle_charref(self, name: str) -> None:
        self.handle_data(name)

    def handle_comment(self, data: str) -> None:
        self.events.append((self._offset(), "verbatim", None))

    handle_decl = handle_pi = unknown_decl = handle_comment  # type: ignore[assignment]  # same shape: one string


def slices(text: str) -> list[Slice]:
    """The whole of ``text`` as consecutive slices (their concatenation is ``text``)."""
    parser = _Slicer(text)
    parser.feed(text)
    parser.close()
    events = sorted(parser.events, key=lambda e: e[0])
    out: list[Slice] = []
    if not events or events[0][0] > 0:
        out.append(Slice(0, events[0][0] if events else len(text), "verbatim"))
    for (start, kind, tag), (end, _, _) in zip(events, [*events[1:], (len(text), "", None)]):
        if start == end:
            continue
        if kind == "tag":
            raw = text[start:end]
            inline = tag in INLINE and not _ATTRIBUTE.search(raw)
            if _ATTRIBUTE.search(raw):
                out.extend(_tag_with_attributes(raw, start))
            else:
                out.append(Slice(start, end, "inline" if inline else "verbatim"))
        else:
            out.append(Slice(start, end, kind))
    return out


def _tag_with_attributes(raw: str, offset: int) -> list[Slice]:
    """A start tag cut around the values of its ``alt`` and ``title`` attributes."""
    out: list[Slice] = []
    position = 0
    for match in _ATTRIBUTE.finditer(raw):
        group = next(g for g in (2, 3, 4) if match.group(g) is not None)
        a, b = match.span(group)
        out.append(Slice(offset + position, offset + a, "verbatim"))
        if b > a:
            out.append(Slice(offset + a, offset + b, "attribute"))
        position = b
    out.append(Slice(offset + position, offset + len(raw), "verbatim"))
    return [s for s in out if s.end > s.start]


@dataclass(frozen=True)
class Run:
    """Translatable source: text with inline tags (``protected`` offsets relative to ``start``),
    or one attribute value. Everything between runs is kept verbatim."""

    start: int
    end: int
    protected: list[Span]
    attribute: bool


def runs(text: str) -> list[Run]:
    """Translatable runs of an HTML document, in order."""
    out: list[Run] = []
    current: list[Slice] = []

    def flush() -> None:
        while current and current[-1].kind == "inline":
            current.pop()  # a run ends with text; trailing tags are verbatim between runs
        while current and current[0].kind == "inline":
            current.pop(0)
        if current:
            start, end = current[0].start, current[-1].end
            body = text[start:end]
            tags = [Span(s.start - start, s.end - start, "html-tag") for s in current if s.kind == "inline"]
            found = [p for p in find_protected(body) if not any(p.start < t.end and t.start < p.end for t in tags)]
            out.append(Run(start, end, sorted(tags + found, key=lambda s: s.start), False))
        current.clear()

    for piece in slices(text):
        if piece.kind in ("text", "inline"):
            current.append(piece)
            continue
        flush()
        if piece.kind == "attribute":
            body = text[piece.start:piece.end]
            out.append(Run(piece.start, piece.end, find_protected(body), True))
    flush()
    return out


def visible_text(text: str) -> str:
    """The translatable text of a document, one run per line (for language detection)."""
    import html

    return "\n".join(html.unescape(re.sub(r"<[^>]*>", " ", text[r.start:r.end])) for r in runs(text))
