"""SubRip (.srt) and WebVTT (.vtt) subtitles.

The file is kept line by line: cue numbers, identifiers, timing lines (timecodes and cue
settings), NOTE/STYLE/REGION blocks and blank lines are written back byte for byte; only a cue's
text lines are replaced, by its translation re-wrapped to the line budget (``line_chars``). A
cue's lines are translated as one text (a sentence often runs over both lines); inline tags
(``<i>``, ``<b>``, ``<u>``, ``<font …>``, ``<c.x>``, ``<v Name>``) are kept as formatting and
put back on the translated words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, decode_text, require
from toolkit.options import DocumentOptions

_SRT_TIME = r"\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}"
_SRT_TIMING = re.compile(rf"^\s*{_SRT_TIME}\s*-->\s*{_SRT_TIME}(?:\s.*)?$")
_VTT_TIME = r"(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t].*)?$")
_TAG = re.compile(r"<(/?)([A-Za-z]+)([^<>]*)>|<\d[\d:.]*>")


@dataclass
class _State:
    lines: list[str]  # the file's lines, each with its own line ending
    cues: list[tuple[int, int]]  # per block: the [first, end) text lines it replaces
    newline: str
    line_chars: int
    max_lines: int


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _segments(text: str) -> list[Segment]:
    """Cue text as segments; the style is the chain of open tags (``<i><font color="red">``)."""
    out: list[Segment] = []
    stack: list[tuple[str, str]] = []  # (name, the opening tag as written)
    position = 0
    for match in _TAG.finditer(text):
        if match.start() > position:
            out.append(Segment(text[position:match.start()], "".join(t for _, t in stack)))
        closing, name = match.group(1), (match.group(2) or "").lower()
        if name and not closing:
            stack.append((name, match.group()))
        elif name and closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        position = match.end()
    if position < len(text):
        out.append(Segment(text[position:], "".join(t for _, t in stack)))
    return out


def _tags(style: str) -> list[tuple[str, str]]:
    return [(m.group(2).lower(), m.group()) for m in _TAG.finditer(style) if m.group(2)]


def render(segments: Sequence[Segment], breaks: set[int]) -> str:
    """Segments back to cue text with their tags, a line break at each plain-text offset in ``breaks``
    (where a space was)."""
    out: list[str] = []
    open_tags: list[tuple[str, str]] = []
    offset = 0
    for segment in segments:
        wanted = _tags(segment.style)
        keep = 0
        while keep < len(open_tags) and keep < len(wanted) and open_tags[keep] == wanted[keep]:
            keep += 1
        for name, _ in reversed(open_tags[keep:]):
            out.append(f"</{name}>")
        out.extend(tag for _, tag in wanted[keep:])
        open_tags = wanted
        for ch in segment.text:
            out.append("\n" if offset in breaks else ch)
            offset += 1
    out.extend(f"</{name}>" for name, _ in reversed(open_tags))
    return "".join(out)


def wrap_points(text: str, width: int) -> set[int]:
    """Offsets of the spaces where a greedy wrap to ``width`` characters breaks ``text``."""
    breaks: set[int] = set()
    line_start = 0
    last_space = -1
    for i, ch in enumerate(text):
        if ch == " ":
            last_space = i
        if i - line_start >= width and last_space > line_start:
            breaks.add(last_space)
            line_start = last_space + 1
            last_space = -1
    return breaks


def _balanced(text: str, width: int) -> set[int]:
    """Two lines of similar length when the text fits two lines: easier to read than greedy."""
    breaks = wrap_points(text, width)
    if len(breaks) == 1:
        middle = len(text) / 2
        spaces = [i for i, ch in enumerate(text) if ch == " "]
        best = min(spaces, key=lambda i: abs(i - middle))
        if best <= width and len(text) - best - 1 <= width:
            return {best}
    return breaks


class Subtitles:
    """SRT or WebVTT, by ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.extensions: tuple[str, ...] = (".srt",) if name == "srt" else (".vtt",)

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        text = decode_text(data, origin)
        newline = "\r\n" if "\r\n" in text else "\n"
        lines = _lines(text)
        if self.name == "srt":
            cues = self._srt_cues(lines, origin)
            self._validate_srt(text, origin)
        else:
            cues = self._vtt_cues(lines, origin)
            self._validate_vtt(text, origin)
        blocks = []
        for number, (a, b) in enumerate(cues, start=1):
            body = " ".join(line.rstrip("\r\n").strip() for line in lines[a:b])
            blocks.append(Block(_segments(body), "cue", f"cue {number}", max_line=options.line_chars))
        counts = {"cues": len(cues), "timing_lines": sum(1 for a, _ in cues if a > 0),
                  "text_lines": sum(b - a for a, b in cues)}
        counts.pop("text_lines")  # re-wrapping may change a cue's line count: not a structure count
        state = _State(lines, cues, newline, options.line_chars, options.max_lines)
        return Structured(self.name, blocks, counts, state)

    def _validate_srt(self, text: str, origin: str) -> None:
        srt = require("srt")
        try:
            for _ in srt.parse(text, ignore_errors=False):
                pass
        except (srt.SRTParseError, ValueError) as exc:
            raise FormatError(f"{origin}: not valid SubRip ({str(exc).splitlines()[0][:200]})") from None

    def _validate_vtt(self, text: str, origin: str) -> None:
        webvtt = require("webvtt")
        try:
            webvtt.from_string(text)
        except Exception as exc:  # webvtt.errors.MalformedFileError and parse errors of its own
            raise FormatError(f"{origin}: not valid WebVTT ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})") from None

    @staticmethod
    def _srt_cues(lines: list[str], origin: str) -> list[tuple[int, int]]:
        cues = []
        i = 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            number = lines[i].strip().lstrip("\ufeff")
            if not number.isdigit() or i + 1 >= len(lines) or not _SRT_TIMING.match(lines[i + 1].rstrip("\r\n")):
                raise FormatError(f"{origin}: line {i + 1}: expected a cue number and a timing line "
                                  "(00:00:01,000 --> 00:00:02,000)")
            a = i + 2
            b = a
            while b < len(lines) and lines[b].strip():
                b += 1
            cues.append((a, b))
            i = b
        return cues

    @staticmethod
    def _vtt_cues(lines: list[str], origin: str) -> list[tuple[int, int]]:
        if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
            raise FormatError(f"{origin}: line 1: a WebVTT file starts with WEBVTT")
        cues = []
        i = 1
        while i < len(lines) and lines[i].strip():  # the header block
            i += 1
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            block = [line.rstrip("\r\n") for line in lines[i:end]]
            timing = next((k for k, line in enumerate(block[:2]) if "-->" in line), None)
            if block[0].startswith(("NOTE", "STYLE", "REGION")) and timing is None:
                i = end
                continue
            if timing is None or not _VTT_TIMING.match(block[timing]):
                raise FormatError(f"{origin}: line {i + 1 + (timing or 0)}: expected a timing line "
                                  "(00:00:01.000 --> 00:00:02.000)")
            cues.append((i + timing + 1, end))
            i = end
        return cues

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        state: _State = doc.state
        warnings: list[str] = []
        replaced: dict[int, tuple[int, list[str]]] = {}
        for number, ((a, b), segments) in enumerate(zip(state.cues, translated), start=1):
            if b <= a:
                continue
            plain = " ".join("".join(s.text for s in segments).split())
            segments = _squeeze(segments)
            breaks = _balanced(plain, state.line_chars)
            lines = render(segments, breaks).split("\n")
            if len(lines) > state.max_lines:
                warnings.append(f"cue {number}: the translation needs {len(lines)} lines of at most "
                                f"{state.line_chars} characters (budget: {state.max_lines})")
            replaced[a] = (b, lines)
        out: list[str] = []
        i = 0
        while i < len(state.lines):
            if i in replaced:
                end, lines = replaced[i]
                ending = state.lines[end - 1][len(state.lines[end - 1].rstrip("\r\n")):] or ""
                out.extend(line + state.newline for line in lines[:-1])
                out.append(lines[-1] + ending)
                i = end
            else:
                out.append(state.lines[i])
                i += 1
        doc.write_warnings = warnings
        return "".join(out).encode("utf-8")


def _squeeze(segments: Sequence[Segment]) -> list[Segment]:
    """Segments with runs of whitespace collapsed to one space and the ends stripped, as the
    plain text that is wrapped."""
    out: list[Segment] = []
    previous_space = True
    for segment in segments:
        chars = []
        for ch in segment.text:
            if ch.isspace():
                if previous_space:
                    continue
                ch = " "
                previous_space = True
            else:
                previous_space = False
            chars.append(ch)
        if chars:
            out.append(Segment("".join(chars), segment.style))
    while out and out[-1].text.endswith(" "):
        out[-1].text = out[-1].text[:-1]
        if not out[-1].text:
            out.pop()
    return out
