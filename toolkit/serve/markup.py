"""Texts to sentences and back, for ``format=text`` and ``format=html``.

Plain text is segmented with the toolkit's lossless segmenter (paragraphs, blank lines and
spacing come back as they were). HTML keeps every tag, attribute and comment as written; only
the text between tags is translated (never inside ``<script>``, ``<style>``, ``<code>``,
``<pre>`` or ``<textarea>``), each text node on its own, and escaped again on the way out
(character references come back as the characters they stand for)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from toolkit.text.segment import segment_document

_KEEP = {"script", "style", "code", "pre", "textarea"}


@dataclass
class Unit:
    """One piece of text to translate: its sentences, and how to put the translations back."""

    segmented: Any  # toolkit.text.segment.SegmentedDocument
    sentences: list[tuple[int, int, str]]

    def rebuild(self, outputs: Sequence[str]) -> str:
        per_paragraph: list[list[str]] = [[] for _ in self.segmented.paragraphs]
        for (paragraph, _, _), output in zip(self.sentences, outputs):
            per_paragraph[paragraph].append(output)
        return self.segmented.reassemble(per_paragraph)


def text_unit(text: str, lang: str) -> Unit:
    segmented = segment_document(text, lang)
    return Unit(segmented, segmented.sentences)


class _Splitter(HTMLParser):
    """Splits HTML into markup (kept verbatim) and text nodes (to translate)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, str]] = []  # ("markup" | "text" | "raw", content)
        self._inside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.parts.append(("markup", self.get_starttag_text() or f"<{tag}>"))
        if tag in _KEEP:
            self._inside.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.parts.append(("markup", self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(("markup", f"</{tag}>"))
        if tag in self._inside:
            while self._inside and self._inside.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._inside:
            # Script and style content arrives raw; code and pre text arrives unescaped.
            raw = self._inside[-1] in ("script", "style")
            self.parts.append(("markup", data if raw else html.escape(data, quote=False)))
        else:
            self.parts.append(("text", data))

    def handle_comment(self, data: str) -> None:
        self.parts.append(("markup", f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.parts.append(("markup", f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.parts.append(("markup", f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.parts.append(("markup", f"<![{data}]>"))


@dataclass
class HtmlDocument:
    parts: list[tuple[str, str]]
    units: dict[int, Unit]  # index in parts -> its unit

    def rebuild(self, translated: dict[int, str]) -> str:
        out = []
        for index, (kind, content) in enumerate(self.parts):
            if kind == "text":
                out.append(html.escape(translated.get(index, content), quote=False))
            else:
                out.append(content)
        return "".join(out)


def html_units(markup: str, lang: str) -> HtmlDocument:
    splitter = _Splitter()
    splitter.feed(markup)
    splitter.close()
    units = {}
    for index, (kind, content) in enumerate(splitter.parts):
        if kind == "text" and any(ch.isalpha() for ch in content):
            units[index] = text_unit(content, lang)
    return HtmlDocument(splitter.parts, units)
