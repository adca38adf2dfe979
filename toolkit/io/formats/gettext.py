"""gettext catalogues (.po, .pot) through polib.

msgid, msgid_plural, msgctxt, comments and references are kept; each untranslated message gets
its msgstr (every plural form from the translation of msgid_plural, the first from msgid) and the
``fuzzy`` flag, so that a translator reviews machine output before gettext uses it. Messages that
already have a translation (not fuzzy) are kept as they are and reported. Placeholders (``%s``,
``%(name)s``, ``{name}``) are protected spans of the translation path: copied verbatim. polib
writes the file back with gettext's own line wrapping (78 columns).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.io.formats.base import Block, Format, FormatError, Segment, Structured, decode_text, require
from toolkit.options import DocumentOptions

_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")
# A keyword or continuation line of a catalogue (also obsolete "#~" and previous "#|" ones) must hold
# one complete quoted string: polib reads an unterminated one by dropping its last character, which
# would change a msgid silently.
_STRING_LINE = re.compile(r'(?:#[~|]\s*)?(?:msgctxt|msgid(?:_plural)?|msgstr(?:\[\d+\])?)?\s*"')
_COMPLETE = re.compile(r'(?:#[~|]\s*)?(?:msgctxt|msgid(?:_plural)?|msgstr(?:\[\d+\])?)?\s*"(?:[^"\\]|\\.)*"\s*')
_HEADER = re.compile(r'^msgid ""\s*$', re.M)
_CHARSET = re.compile(rb"charset=([A-Za-z0-9_.:-]+)")


def _decode(data: bytes, origin: str) -> tuple[str, bool]:
    """The catalogue's text, and whether it was read in a legacy charset its header declares
    (``charset=ISO-8859-1``): gettext allows any, the written file is UTF-8 and says so."""
    import codecs

    try:
        return decode_text(data, origin), False
    except FormatError:
        declared = _CHARSET.search(data[:8192])
        if declared is None:
            raise
        name = declared.group(1).decode("ascii")
        try:
            codec = codecs.lookup(name)
        except LookupError:
            raise FormatError(f"{origin}: the catalogue declares charset={name}, which is not a known "
                              "encoding") from None
        if codec.name == "utf-8":
            raise
        try:
            return data.decode(codec.name), True
        except UnicodeDecodeError as exc:
            raise FormatError(f"{origin}: not valid {name} (its declared charset) at byte offset "
                              f"{exc.start}") from None


def _check_strings(text: str, origin: str) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if _STRING_LINE.match(stripped) and not _COMPLETE.fullmatch(stripped):
            raise FormatError(f"{origin}: not a valid gettext catalogue (unterminated or malformed string "
                              f"on line {number})")


@dataclass
class _State:
    catalogue: Any
    targets: list[tuple[Any, int | None, bool]]  # per block: (entry, plural index or None, is msgid_plural)
    nplurals: int
    source: str
    legacy_charset: bool  # read in the charset the header declared: the header is changed to UTF-8


class Gettext:
    name = "po"
    extensions: tuple[str, ...] = (".po", ".pot")

    def output_format(self) -> Format:
        return self

    def read(self, data: bytes, origin: str, options: DocumentOptions) -> Structured:
        polib = require("polib")
        text, legacy = _decode(data, origin)
        _check_strings(text, origin)
        try:
            catalogue = polib.pofile(text, wrapwidth=78)
        except (OSError, ValueError) as exc:
            raise FormatError(f"{origin}: not a valid gettext catalogue ({str(exc).splitlines()[0][:200]})") from None
        match = _NPLURALS.search(catalogue.metadata.get("Plural-Forms", ""))
        nplurals = int(match.group(1)) if match else 2
        blocks: list[Block] = []
        targets: list[tuple[Any, int | None, bool]] = []
        skipped = []
        live = [e for e in catalogue if not e.obsolete and e.msgid]
        for entry in live:
            where = f"msgid {entry.msgid[:40]!r}" + (f" (msgctxt {entry.msgctxt!r})" if entry.msgctxt else "")
            if entry.translated():
                skipped.append({"where": where, "why": "already translated: kept"})
                continue
            blocks.append(Block([Segment(entry.msgid)], "message", where))
            targets.append((entry, 0 if entry.msgid_plural else None, False))
            if entry.msgid_plural:
                blocks.append(Block([Segment(entry.msgid_plural)], "message", where + " plural"))
                targets.append((entry, None, True))
        counts = {"messages": len(live), "plural_messages": sum(1 for e in live if e.msgid_plural),
                  "obsolete": sum(1 for e in catalogue if e.obsolete)}
        return Structured(self.name, blocks, counts, _State(catalogue, targets, nplurals, text, legacy), skipped)

    def write(self, doc: Structured, translated: Sequence[list[Segment]]) -> bytes:
        state: _State = doc.state
        for (entry, plural, is_plural), segments in zip(state.targets, translated):
            text = "".join(s.text for s in segments)
            if plural is None and not is_plural:
                entry.msgstr = text
            elif plural == 0:
                entry.msgstr_plural = {**entry.msgstr_plural, 0: text}
            else:
                entry.msgstr_plural = {**entry.msgstr_plural, **{k: text for k in range(1, state.nplurals)}}
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        content_type = state.catalogue.metadata.get("Content-Type", "")
        if state.legacy_charset and "charset=" in content_type:  # the bytes written are UTF-8: say so
            state.catalogue.metadata["Content-Type"] = re.sub(r"charset=[A-Za-z0-9_.:-]+", "charset=UTF-8",
                                                              content_type)
        text = str(state.catalogue)
        if text.startswith("#\n") and not state.source.startswith("#"):
            text = text[2:]  # polib writes an empty header comment the source did not have
        if not _HEADER.search(state.source) and text.startswith('msgid ""\nmsgstr ""\n\n'):
            text = text[len('msgid ""\nmsgstr ""\n\n'):]  # ... and an empty header entry
        return text.encode("utf-8")
