"""Segmentation: document → paragraphs → sentences → token-budget pieces, and lossless reassembly.

A paragraph is one non-blank line. Everything that is not sentence text (indentation, Markdown
markers, the spaces between sentences, blank lines, the trailing newline or its absence) is kept
verbatim, so ``reassemble(doc, sentences)`` rebuilds the source byte for byte.

Sentence boundaries come from pySBD (the Pragmatic Segmenter's rules, 23 languages) where it
knows the language, and from the toolkit's own rules otherwise. pySBD returns sentence strings,
not offsets, and may alter whitespace, so its boundaries are mapped back onto the source by
counting non-whitespace characters: sentences are always slices of the source, never pySBD's
strings. For French, the toolkit's rules (titles, initials, « guillemets », ellipses) are added
to pySBD's boundaries, and both are checked against the French abbreviation list.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from toolkit.text.html import runs
from toolkit.text.markdown import TABLE_ROW, TEXT, VERBATIM, classify_lines, table_cells
from toolkit.text.protect import Span, find_protected

log = logging.getLogger(__name__)

# Words that end with a period without ending a sentence (lower-case, no period). The French list
# refines pySBD; the common list serves the rule-based fallback for languages pySBD lacks.
_COMMON_ABBREVIATIONS = {"cf", "vs", "no", "nos", "p", "pp", "vol", "fig", "ca", "approx", "ed", "eds"}
ABBREVIATIONS: dict[str, set[str]] = {
    "fr": {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "drs", "pr", "me", "mgr", "st", "ste", "sts",
        "av", "apr", "bd", "boul", "chap", "art", "al", "env", "ex", "gén", "gal", "col", "cdt", "lt",
        "sgt", "cap", "tél", "n°", "éd", "coll", "dir", "hab", "min", "max", "sq", "suiv", "id", "ibid",
        "op", "cit", "janv", "févr", "avr", "juill", "sept", "oct", "nov", "déc", "mar", "lun", "mer",
        "jeu", "ven", "sam", "dim", "hr", "ch",
    },
}
# Words that start most sentences (capitalised pronouns, articles, conjunctions): after a dotted
# acronym ("l'O.N.U.", "le F.M.I.", "J.-C.") the period ends the sentence when one follows, as
# pySBD decides for English on the evidence of the next word. Proper names ("J.-C. Decaux") do not.
SENTENCE_STARTERS: dict[str, frozenset[str]] = {
    "fr": frozenset({
        "il", "ils", "elle", "elles", "on", "je", "j'", "nous", "vous", "le", "la", "les", "l'", "un", "une", "des",
        "ce", "cet", "cette", "ces", "c'", "cela", "ceci", "mais", "et", "or", "donc", "puis", "ensuite", "alors",
        "selon", "depuis", "en", "dans", "pour", "après", "avant", "son", "sa", "ses", "leur", "leurs", "du", "au",
        "aux", "d'", "qu'", "s'", "lors", "pourtant", "cependant", "toutefois", "ainsi", "aujourd'hui", "hier",
    }),
}
# Units written after a number ("à 10 h.", "pendant 20 min."): the period is the abbreviation's
# and, before a capitalised word, the sentence's too; an hour never precedes a name the way a
# title does ("M. Dupont"). Only after a number: "h" alone stays an initial ("H. Dupont").
UNITS_AFTER_NUMBERS: dict[str, frozenset[str]] = {"fr": frozenset({"h", "min", "mn"})}
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)?")
_NEXT_WORD = re.compile(r"[^\W\d_]+['’]?")
_ACRONYM = re.compile(r"(?:\w\.)+\w|\w+-\w|(?:\w\.)+-\w")
# Abbreviations that may also end a sentence: a split is made only before a capital letter.
SENTENCE_FINAL_ABBREVIATIONS = {"etc", "ecc", "usw", "inc", "ltd", "co", "corp"}
# Languages whose pySBD boundaries are merged with, and checked by, the toolkit's own rules.
REFINED_LANGUAGES = frozenset({"fr"})

_TERMINAL = re.compile(r"(?:\.{2,}|…|[.!?‼⁇⁈⁉]+)(?:[\s\u00a0\u202f]*[»”\"’')\]])*")
_OPENERS = "«“\"‘'([¿¡—–-"
# Kept verbatim before a Markdown line's text: headings, quotes, list markers with a GFM task box
# ("- [ ] "), a footnote definition's label ("[^1]: ").
_MD_PREFIX = re.compile(r"^(\s*(?:#{1,6}\s+|(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?|>\s?|\[\^[^\]\s]+\]:\s+)*)")


def base_language(lang: str | None) -> str:
    return (lang or "").replace("_", "-").split("-")[0].lower()


# Languages written without spaces between sentences (and words).
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})


def word_separator(lang: str | None) -> str:
    """What goes between two sentences of ``lang`` where the source had nothing between them."""
    return "" if base_language(lang) in UNSPACED_LANGUAGES else " "


def _abbreviations(lang: str | None) -> set[str]:
    return _COMMON_ABBREVIATIONS | ABBREVIATIONS.get(base_language(lang), set())


def is_cjk(char: str) -> bool:
    """Scripts written without spaces between words (Han, kana, Hangul, fullwidth forms)."""
    code = ord(char)
    return (0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF
            or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x3FFFF)


def _word_before(text: str, end: int) -> str:
    """The whitespace-delimited token ending at ``end`` (exclusive), without leading openers."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS + "/")


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS or unicodedata.category(char) == "Lo"


_SPACES = re.compile(r"\s*")  # re's \s is str.isspace


def _rule_accepts(text: str, punct_start: int, end: int, abbreviations: set[str],
                  starters: frozenset[str] = frozenset(), units: frozenset[str] = frozenset()) -> bool:
    """The toolkit's rules for a sentence ending at ``end`` whose final punctuation starts at
    ``punct_start``: a space must follow, then something that can start a sentence, and the
    word before a lone period must not be an abbreviation or an initial. Only the text around
    ``end`` is looked at (never the rest of the paragraph): segmentation stays linear."""
    after = _SPACES.match(text, end).end()  # type: ignore[union-attr]
    if after == len(text) or after == end:
        return False  # end of paragraph, or no space after the mark ("8.3", "www.x.fr")
    first = text[after]
    if not _starts_sentence(first):
        return False  # "Ensuite... il", "etc. et"
    punct = text[punct_start:end].rstrip("»”\"’')] \u00a0\u202f")
    if punct == ".":
        word = _word_before(text, punct_start).lower()
        if word in SENTENCE_FINAL_ABBREVIATIONS:
            return first.isupper()
        if word in units and _after_number(text, punct_start - len(word)):
            return first.isupper()
        if word in abbreviations or word.rstrip(".") in abbreviations:
            return False
        if len(word) == 1 and word.isalpha():
            return False  # an initial: "J. Martin"
        if _ACRONYM.fullmatch(word) and len(word) <= 5:
            return first.isupper() and _next_word(text, after) in starters  # "F.M.I. Il", not "J.-C. Decaux"
    return True


def _after_number(text: str, word_start: int) -> bool:
    """The token before the word starting at ``word_start`` is a number ("10 h", "1,5 h")."""
    end = word_start
    while end > 0 and text[end - 1] in " \u00a0\u202f":
        end -= 1
    return end < word_start and _NUMBER.fullmatch(_word_before(text, end)) is not None


def _next_word(text: str, start: int) -> str:
    """The word at ``start``, lower-case, with an elided article's apostrophe ("l'", "qu'")."""
    match = _NEXT_WORD.match(text, start)
    return match.group().lower().replace("’", "'") if match else ""


def _starters(lang: str) -> frozenset[str]:
    return SENTENCE_STARTERS.get(base_language(lang), frozenset())


def _units(lang: str) -> frozenset[str]:
    return UNITS_AFTER_NUMBERS.get(base_language(lang), frozenset())


def _rule_ends(text: str, lang: str) -> set[int]:
    """Sentence ends found by the toolkit's hand-written rules (the fallback segmenter)."""
    abbreviations, starters, units = _abbreviations(lang), _starters(lang), _units(lang)
    return {m.end() for m in _TERMINAL.finditer(text)
            if _rule_accepts(text, m.start(), m.end(), abbreviations, starters, units)}


@cache
def _pysbd_segmenter(lang: str) -> Any:
    import pysbd

    return pysbd.Segmenter(language=lang, clean=False)


def pysbd_languages() -> frozenset[str]:
    from pysbd.languages import LANGUAGE_CODES

    return frozenset(LANGUAGE_CODES)


def _pysbd_ends(text: str, lang: str) -> set[int] | None:
    """pySBD's sentence ends as offsets into ``text``, or None when they cannot be mapped.

    pySBD's own ``char_span`` option looks each (possibly altered) sentence up in the text and
    silently drops those it cannot find, so offsets are recovered here instead: pySBD keeps every
    non-whitespace character in order, and the n-th of them sits at a known offset."""
    sentences = _pysbd_segmenter(lang).processor(text).process() if text.strip() else []
    visible = [i for i, ch in enumerate(text) if not ch.isspace()]
    ends: set[int] = set()
    count = 0
    for sentence in sentences:
        count += sum(1 for ch in sentence if not ch.isspace())
        if count:
            ends.add(visible[min(count, len(visible)) - 1] + 1)
    produced = "".join(ch for s in sentences for ch in s if not ch.isspace())
    if produced != "".join(text[i] for i in visible):
        log.debug("pySBD altered the text of %r; using the rule-based segmenter", text[:60])
        return None
    return ends


# pySBD's time grows faster than the length of a paragraph: longer ones go to it in windows.
PYSBD_WINDOW = 4000
_WINDOW_CUT = re.compile(r"[.!?。！？]+(?=\s)|[。！？]+|\S(?=\s)")


def _windowed_pysbd_ends(text: str, lang: str) -> set[int] | None:
    """pySBD on windows of at most PYSBD_WINDOW characters, each cut at the last boundary the
    toolkit's rules accept before the limit, else after the last terminal mark, else at a space."""
    if len(text) <= PYSBD_WINDOW:
        return _pysbd_ends(text, lang)
    rule_ends = sorted(_rule_ends(text, lang))
    ends: set[int] = set()
    start = 0
    while start < len(text):
        stop = len(text)
        if stop - start > PYSBD_WINDOW:
            limit = start + PYSBD_WINDOW
            last = bisect.bisect_right(rule_ends, limit) - 1  # the last rule end <= limit
            stop = rule_ends[last] if last >= 0 and rule_ends[last] > start else 0
            if not stop:
                marks = [m for m in _WINDOW_CUT.finditer(text, start, limit) if m.end() > start]
                terminal = [m.end() for m in marks if m.group()[-1] in ".!?。！？"]
                stop = (terminal or [m.end() for m in marks] or [limit])[-1]
        window = _pysbd_ends(text[start:stop], lang)
        if window is None:
            return None
        ends |= {start + e for e in window}
        start = stop
    return ends


def _glued(text: str, end: int) -> bool:
    """A boundary with no space after it, outside scripts that use none ("J.|-C.", "8.|3")."""
    return end < len(text) and not text[end].isspace() and not (is_cjk(text[end - 1]) or is_cjk(text[end]))


_INLINE_NUMBER = re.compile(r"\s*\d{1,4}\.(?=\s|$)")


def _accepts_library_end(text: str, end: int, abbreviations: set[str], starters: frozenset[str],
                         units: frozenset[str]) -> bool:
    """The toolkit's rules applied to a boundary pySBD found (refined languages only)."""
    stop = end
    while stop > 0 and text[stop - 1] in "»”\"’')] \u00a0\u202f":
        stop -= 1
    start = stop
    while start > 0 and text[start - 1] in ".!?…‼⁇⁈⁉":
        start -= 1
    if start == stop:
        # No final punctuation: pySBD's list items ("1. apples 2. pears"). Not before a number
        # that continues a running sentence ("le plan numéro 5. Le …"): a lowercase word, then
        # "5." — an inline item would lose its lead-in, and the sentence its end.
        last = end
        while last > 0 and text[last - 1].isspace():
            last -= 1
        return not (text[last - 1:last].islower() and _INLINE_NUMBER.match(text, end))
    return _rule_accepts(text, start, end, abbreviations, starters, units)


def sentence_spans(text: str, lang: str | None = "fr",
                   keep_together: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in one paragraph; whitespace between them is excluded.
    No sentence ends strictly inside a ``keep_together`` span (a URL, a code span)."""
    code = base_language(lang)
    ends = _windowed_pysbd_ends(text, code) if code in pysbd_languages() else None
    if ends is None:
        ends = _rule_ends(text, code)
    elif code in REFINED_LANGUAGES:
        abbreviations = _abbreviations(code)
        starters, units = _starters(code), _units(code)
        ends = {e for e in ends if _accepts_library_end(text, e, abbreviations, starters, units)} | _rule_ends(text, code)
    spans: list[tuple[int, int]] = []
    start = 0
    together = sorted(keep_together)
    reach = list(itertools.accumulate((b for _, b in together), max))
    ends = {e for e in ends if not _glued(text, e) and not _inside_any(e, together, reach)}
    for end in sorted(ends) + [len(text)]:
        piece = text[start:end]
        a = start + len(piece) - len(piece.lstrip())
        b = start + len(piece.rstrip())
        if b > a:
            spans.append((a, b))
        start = max(start, end)
    return spans


def _inside_any(position: int, spans: Sequence[tuple[int, int]], reach: Sequence[int]) -> bool:
    """``a < position < b`` for some span; ``spans`` sorted, ``reach[i]`` the largest end among
    ``spans[:i + 1]``: log time, so that many protected spans keep segmentation linear."""
    index = bisect.bisect_left(spans, (position,)) - 1  # the last span starting before position
    return index >= 0 and reach[index] > position


def split_sentences(text: str, lang: str | None = "fr") -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text, lang)]


@dataclass
class Paragraph:
    """One translatable line: ``prefix`` + sentences joined by ``separators`` + ``suffix``."""

    prefix: str
    sentences: list[str]
    separators: list[str]
    suffix: str
    # Per sentence, the (start, end) offsets of its protected spans (see toolkit.text.protect).
    protected: list[list[tuple[int, int]]] = field(default_factory=list)
    table_row: bool = False  # sentences are Markdown table cells: an output must not add a pipe
    markup: str = ""  # "html" or "html-attribute": entities decoded for the model, outputs escaped

    def render(self, sentences: Sequence[str], empty_separator: str = "") -> str:
        """``empty_separator`` replaces a source separator that is empty (CJK sentences follow one
        another without a space, English translations of them must not)."""
        parts = [self.prefix]
        for i, sentence in enumerate(sentences):
            if i:
                separator = self.separators[i - 1] if i - 1 < len(self.separators) else " "
                parts.append(separator or empty_separator)
            parts.append(sentence)
        parts.append(self.suffix)
        return "".join(parts)


@dataclass
class SegmentedDocument:
    """Lines of a document: a Paragraph to translate, or a str passed through unchanged."""

    lines: list[Paragraph | str]
    lang: str | None = None
    joiner: str = "\n"  # between lines: "" for HTML, whose lines are consecutive slices
    paragraphs: list[Paragraph] = field(init=False)

    def __post_init__(self) -> None:
        self.paragraphs = [line for line in self.lines if isinstance(line, Paragraph)]

    @property
    def sentences(self) -> list[tuple[int, int, str]]:
        """(paragraph index, sentence index, text) for every sentence, in document order."""
        return [(p, s, text) for p, para in enumerate(self.paragraphs) for s, text in enumerate(para.sentences)]

    def reassemble(self, outputs: Sequence[Sequence[str]] | None = None, empty_separator: str = "") -> str:
        """Rebuild the text, with ``outputs[p]`` in place of paragraph p's sentences when given."""
        rendered: list[str] = []
        p = 0
        for line in self.lines:
            if isinstance(line, Paragraph):
                if outputs is None:
                    rendered.append(line.render(line.sentences))
                else:
                    rendered.append(line.render(outputs[p], empty_separator))
                p += 1
            else:
                rendered.append(line)
        return self.joiner.join(rendered)


# How far past a cut the segmentation of a prefix may differ from the whole text's: a pySBD
# window (cut at the rules' last end before its limit), another, and the few characters the rules
# look ahead.
_PREFIX_MARGIN = 2 * PYSBD_WINDOW + 256


def leading_sentences(text: str, lang: str | None, wanted: int, read: int = 16 * PYSBD_WINDOW) -> tuple[list[str], int]:
    """The first sentences of a plain-text document, exactly as ``segment_document(text, lang)``
    has them — at least ``wanted`` when there are that many — reading only as far as needed (a
    prefix of ``read`` characters, doubled until enough of its sentences are final); and how many
    characters were read (``len(text)``: all of it). Sentences of the prefix's last, cut line are
    final only well before the cut and when the whole line is windowed for pySBD, as the text
    before a window's cut never depends on what follows it."""
    while read < len(text):
        final = _final_sentences(text, lang, read)
        if len(final) >= wanted:
            return final, read
        read *= 2
    return [sentence for _, _, sentence in segment_document(text, lang).sentences], len(text)


def _final_sentences(text: str, lang: str | None, cut: int) -> list[str]:
    prefix = text[:cut]
    lines = prefix.split("\n")
    cut_line_start = cut - len(lines[-1])
    line_end = text.find("\n", cut_line_start)
    cut_line_length = (len(text) if line_end < 0 else line_end) - cut_line_start
    trusted_end = cut - _PREFIX_MARGIN if cut_line_length > PYSBD_WINDOW else cut_line_start
    found: list[str] = []
    start = 0
    for line, segmented in zip(lines, segment_document(prefix, lang).lines):
        if isinstance(segmented, Paragraph):
            position = start + len(segmented.prefix)
            for i, sentence in enumerate(segmented.sentences):
                end = position + len(sentence)
                if start == cut_line_start and end > trusted_end:
                    return found
                found.append(sentence)
                position = end + (len(segmented.separators[i]) if i < len(segmented.separators) else 0)
        start += len(line) + 1
    return found


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def segment_document(text: str, lang: str | None = "fr", markdown: bool = False,
                     protect: bool = True) -> SegmentedDocument:
    """Split ``text`` (LF newlines) into paragraphs and sentences, keeping every other character.

    With ``markdown``, front matter, code fences, HTML comment blocks, link definitions and table
    alignment rows pass through, and table rows are split into cells. With ``protect``, each
    sentence records its protected spans (URLs, code, …), inside which no sentence ends."""
    lines: list[Paragraph | str] = []
    all_lines = text.split("\n")
    kinds = classify_lines(all_lines) if markdown else [TEXT] * len(all_lines)
    for line, kind in zip(all_lines, kinds):
        paragraph = None
        if kind != VERBATIM and _has_letters(line):  # blank lines, rules and bare numbers pass through
            paragraph = _paragraph(line, lang, markdown, protect, kind == TABLE_ROW)
        lines.append(paragraph or line)
    return SegmentedDocument(lines, lang)


def _paragraph(line: str, lang: str | None, markdown: bool, protect: bool, table_row: bool) -> Paragraph | None:
    if table_row or not markdown:
        prefix = line[: len(line) - len(line.lstrip())]
    else:
        match = _MD_PREFIX.match(line)
        prefix = match.group(1) if match else ""
    body = line[len(prefix):]
    protected = find_protected(body, markdown) if protect else []
    regions = table_cells(body, protected) if table_row else [(0, len(body))]
    return make_paragraph(prefix, body, lang, protected, regions, table_row=table_row)


_LINE_BREAKS = str.maketrans("\n\r\t\f\v", "     ")


class _Within:
    """The protected spans lying within [a, b), relative to a, in their given order; found by
    bisection, so a paragraph with many URLs and sentences stays linear."""

    def __init__(self, protected: Sequence[Span]) -> None:
        self.protected = protected
        self.order = sorted(range(len(protected)), key=lambda i: protected[i].start)
        self.starts = [protected[i].start for i in self.order]

    def __call__(self, a: int, b: int) -> list[tuple[int, int]]:
        first, last = bisect.bisect_left(self.starts, a), bisect.bisect_right(self.starts, b)
        found = sorted(i for i in self.order[first:last] if self.protected[i].end <= b)
        return [(self.protected[i].start - a, self.protected[i].end - a) for i in found]


def make_paragraph(prefix: str, body: str, lang: str | None, protected: Sequence[Span],
                   regions: Sequence[tuple[int, int]] | None = None, **flags: Any) -> Paragraph | None:
    """The sentences of ``body`` (within ``regions``, by default all of it), with their protected
    spans; None when there is nothing to translate. ``flags`` go to the Paragraph."""
    spans: list[tuple[int, int]] = []
    within = _Within(protected)
    for a, b in regions if regions is not None else [(0, len(body))]:
        if _has_letters(body[a:b]):
            inner = within(a, b)
            # Line breaks (in HTML text) become spaces of the same length: pySBD would split there.
            flat = body[a:b].translate(_LINE_BREAKS)
            spans += [(a + x, a + y) for x, y in sentence_spans(flat, lang, inner)]
    if not spans:
        return None
    sentences = [body[a:b] for a, b in spans]
    separators = [body[spans[i][1] : spans[i + 1][0]] for i in range(len(spans) - 1)]
    inside = [within(a, b) for a, b in spans]
    return Paragraph(prefix + body[: spans[0][0]], sentences, separators, body[spans[-1][1]:], inside, **flags)


def segment_html(text: str, lang: str | None = "fr") -> SegmentedDocument:
    """An HTML document as verbatim slices and paragraphs (its text runs and alt/title values)."""
    lines: list[Paragraph | str] = []
    position = 0
    for run in runs(text):
        paragraph = make_paragraph("", text[run.start:run.end], lang, run.protected,
                                   markup="html-attribute" if run.attribute else "html")
        if paragraph is None:
            continue
        lines.append(text[position:run.start])
        lines.append(paragraph)
        position = run.end
    lines.append(text[position:])
    return SegmentedDocument(lines, lang, joiner="")


# Clause punctuation, Latin and CJK (fullwidth comma, ideographic comma, semicolon, colon).
_CLAUSE_BREAK = re.compile(r"[;:,—–)»，、；：]\s*")


def _clause_cuts(text: str, a: int, b: int) -> list[int]:
    return [m.end() for m in _CLAUSE_BREAK.finditer(text, a, b) if (m.end() > m.start() + 1 or is_cjk(m.group()[0]))]


def _word_cuts(text: str, a: int, b: int) -> list[int]:
    """After each run of spaces, and between two characters of which one is CJK (no spaces there)."""
    cuts = [m.end() for m in re.finditer(r"\s+", text[a:b])]
    cuts = [a + c for c in cuts]
    cuts += [i for i in range(a + 1, b) if (is_cjk(text[i - 1]) or is_cjk(text[i]))
             and not text[i - 1].isspace() and not text[i].isspace()]
    return sorted(set(cuts))


def _char_cuts(text: str, a: int, b: int) -> list[int]:
    return [i for i in range(a + 1, b) if not unicodedata.combining(text[i])]


# From coarse to fine: clause punctuation, then between words, then (a last resort for a run of
# characters longer than the whole budget, e.g. a long URL) between characters.
_CUT_LEVELS = (_clause_cuts, _word_cuts, _char_cuts)


def split_to_budget(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` tokens, at clause breaks, then between words.

    Pieces are slices of ``text`` (stripped), so nothing is invented or dropped: ``text`` equals the
    pieces joined with the whitespace found at the cuts. Words are never cut, except a single
    space-free run that is itself longer than the budget; CJK text is cut between characters.
    """
    if budget < 1:
        raise ValueError("budget must be at least 1 token")
    if count_tokens(text) <= budget:
        return [text]
    spans = _cut(text, 0, len(text), 0, lambda a, b: count_tokens(text[a:b].strip()) <= budget)
    return [text[a:b].strip() for a, b in spans if text[a:b].strip()]


def _cut(text: str, a: int, b: int, level: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Greedily pack [a, b) into the longest fitting slices between cut points of ``level``; a slice
    between two neighbouring cuts that is still too long is cut at the next, finer level."""
    if fits(a, b) or level >= len(_CUT_LEVELS):
        return [(a, b)]
    cuts = [c for c in _CUT_LEVELS[level](text, a, b) if a < c < b]
    if not cuts:
        return _cut(text, a, b, level + 1, fits)
    bounds = cuts + [b]
    spans: list[tuple[int, int]] = []
    start, i = a, 0
    while i < len(bounds):
        best = None
        for j in range(i, len(bounds)):
            if not fits(start, bounds[j]):
                break
            best = j
        if best is None:
            spans.extend(_cut(text, start, bounds[i], level + 1, fits))
            start, i = bounds[i], i + 1
        else:
            spans.append((start, bounds[best]))
            start, i = bounds[best], best + 1
    return spans


def pack_sentences(sentences: Sequence[str], count_tokens: Callable[[str], int], budget: int) -> list[list[str]]:
    """Group consecutive sentences into chunks of at most ``budget`` tokens (a longer sentence is
    split to the budget first), for summarising documents longer than a model's window."""
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for sentence in sentences:
        for piece in split_to_budget(sentence, count_tokens, budget):
            size = count_tokens(piece)
            if current and used + size > budget:
                chunks.append(current)
                current, used = [], 0
            current.append(piece)
            used += size
    if current:
        chunks.append(current)
    return chunks
