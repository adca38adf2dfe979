"""Segmentation: document → paragraphs → sentences → token-budget pieces, and lossless reassembly.

A paragraph is one non-blank line. Everything that is not sentence text (indentation, Markdown
markers, the spaces between sentences, blank lines, the trailing newline or its absence) is kept
verbatim, so ``reassemble(doc, sentences)`` rebuilds the source byte for byte.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Sequence

# Words that end with a period without ending a sentence, by language (lower-case, no period).
_COMMON_ABBREVIATIONS = {"cf", "vs", "no", "nos", "p", "pp", "vol", "fig", "ca", "approx", "ed", "eds"}
ABBREVIATIONS: dict[str, set[str]] = {
    "fr": {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "drs", "pr", "me", "mgr", "st", "ste", "sts",
        "av", "apr", "bd", "boul", "chap", "art", "al", "env", "ex", "gén", "gal", "col", "cdt", "lt",
        "sgt", "cap", "tél", "n°", "éd", "coll", "dir", "hab", "min", "max", "sq", "suiv", "id", "ibid",
        "op", "cit", "janv", "févr", "avr", "juill", "sept", "oct", "nov", "déc", "mar", "lun", "mer",
        "jeu", "ven", "sam", "dim", "hr", "ch",
    },
    "en": {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
        "gov", "sen", "rep", "rev", "hon", "inc", "ltd", "co", "corp", "dept", "univ", "e.g", "i.e",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "est",
        "fig", "ave", "blvd", "rd", "u.s", "u.k", "a.m", "p.m", "ph.d",
    },
    "de": {"dr", "prof", "hr", "fr", "nr", "bzw", "ca", "usw", "z.b", "d.h", "u.a", "s", "str", "jh", "vgl"},
    "es": {"sr", "sra", "srta", "dr", "dra", "ud", "uds", "pág", "núm", "etc", "p.ej", "av", "avda"},
    "it": {"sig", "sigg", "sig.ra", "dott", "prof", "ing", "avv", "pag", "ecc"},
}
# Abbreviations that may also end a sentence: a split is made only before a capital letter.
SENTENCE_FINAL_ABBREVIATIONS = {"etc", "ecc", "usw", "inc", "ltd", "co", "corp"}

_TERMINAL = re.compile(r"(?:\.{2,}|…|[.!?‼⁇⁈⁉]+)(?:[\s\u00a0\u202f]*[»”\"’')\]])*")
_OPENERS = "«“\"‘'([¿¡—–-"
_MD_PREFIX = re.compile(r"^(\s*(?:#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|>\s?)*)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _abbreviations(lang: str | None) -> set[str]:
    return _COMMON_ABBREVIATIONS | ABBREVIATIONS.get((lang or "").split("-")[0].lower(), set())


def _word_before(text: str, end: int) -> str:
    """The whitespace-delimited token ending at ``end`` (exclusive), without leading openers."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS + "/")


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS or unicodedata.category(char) == "Lo"


def sentence_spans(text: str, lang: str | None = "fr") -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in one paragraph; whitespace between them is excluded."""
    abbreviations = _abbreviations(lang)
    spans: list[tuple[int, int]] = []
    start = len(text) - len(text.lstrip())
    for match in _TERMINAL.finditer(text):
        end = match.end()
        rest = text[end:]
        stripped = rest.lstrip()
        if not stripped or len(stripped) == len(rest):
            continue  # end of paragraph, or no space after the mark ("8.3", "www.x.fr")
        if not _starts_sentence(stripped[0]):
            continue  # "Ensuite... il", "etc. et"
        punct = match.group(0).rstrip("»”\"’')] \u00a0\u202f")
        if punct == ".":
            word = _word_before(text, match.start()).lower()
            if word in SENTENCE_FINAL_ABBREVIATIONS:
                if not stripped[0].isupper():
                    continue
            elif word in abbreviations or word.rstrip(".") in abbreviations:
                continue
            elif len(word) == 1 and word.isalpha():
                continue  # an initial: "J. Martin"
            elif re.fullmatch(r"(?:\w\.)+\w|\w+-\w", word) and len(word) <= 5:
                continue  # "U.S", "J.-C"
        if end > start:
            spans.append((start, end))
        start = end + (len(rest) - len(stripped))
    stop = len(text.rstrip())
    if stop > start:
        spans.append((start, stop))
    return spans


def split_sentences(text: str, lang: str | None = "fr") -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text, lang)]


@dataclass
class Paragraph:
    """One translatable line: ``prefix`` + sentences joined by ``separators`` + ``suffix``."""

    prefix: str
    sentences: list[str]
    separators: list[str]
    suffix: str

    def render(self, sentences: Sequence[str]) -> str:
        parts = [self.prefix]
        for i, sentence in enumerate(sentences):
            if i:
                parts.append(self.separators[i - 1] if i - 1 < len(self.separators) else " ")
            parts.append(sentence)
        parts.append(self.suffix)
        return "".join(parts)


@dataclass
class SegmentedDocument:
    """Lines of a document: a Paragraph to translate, or a str passed through unchanged."""

    lines: list[Paragraph | str]
    lang: str | None = None
    paragraphs: list[Paragraph] = field(init=False)

    def __post_init__(self) -> None:
        self.paragraphs = [line for line in self.lines if isinstance(line, Paragraph)]

    @property
    def sentences(self) -> list[tuple[int, int, str]]:
        """(paragraph index, sentence index, text) for every sentence, in document order."""
        return [(p, s, text) for p, para in enumerate(self.paragraphs) for s, text in enumerate(para.sentences)]

    def reassemble(self, outputs: Sequence[Sequence[str]] | None = None) -> str:
        """Rebuild the text, with ``outputs[p]`` in place of paragraph p's sentences when given."""
        rendered: list[str] = []
        p = 0
        for line in self.lines:
            if isinstance(line, Paragraph):
                rendered.append(line.render(outputs[p] if outputs is not None else line.sentences))
                p += 1
            else:
                rendered.append(line)
        return "\n".join(rendered)


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def segment_document(text: str, lang: str | None = "fr", markdown: bool = False) -> SegmentedDocument:
    """Split ``text`` (LF newlines) into paragraphs and sentences, keeping every other character."""
    lines: list[Paragraph | str] = []
    in_fence = False
    for line in text.split("\n"):
        if markdown and _FENCE.match(line):
            in_fence = not in_fence
            lines.append(line)
            continue
        if in_fence or not _has_letters(line):
            lines.append(line)  # blank lines, rules, bare numbers and code pass through
            continue
        prefix = _MD_PREFIX.match(line).group(1) if markdown else line[: len(line) - len(line.lstrip())]
        body = line[len(prefix):]
        spans = sentence_spans(body, lang)
        lead = body[: spans[0][0]]
        sentences = [body[a:b] for a, b in spans]
        separators = [body[spans[i][1] : spans[i + 1][0]] for i in range(len(spans) - 1)]
        lines.append(Paragraph(prefix + lead, sentences, separators, body[spans[-1][1]:]))
    return SegmentedDocument(lines, lang)


_CLAUSE_BREAK = re.compile(r"(?<=[;:,—–)»])\s+")


def split_to_budget(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` tokens, at clause breaks, then at spaces.

    Nothing is dropped: ``" ".join(pieces)`` equals ``text`` up to the whitespace at the cuts.
    A single word longer than the budget is cut between characters.
    """
    if budget < 1:
        raise ValueError("budget must be at least 1 token")
    if count_tokens(text) <= budget:
        return [text]
    for splitter in (_CLAUSE_BREAK, re.compile(r"\s+")):
        parts = [p for p in splitter.split(text) if p]
        if len(parts) > 1:
            return _pack(parts, count_tokens, budget)
    # One unbreakable token run: cut it in halves until each fits.
    middle = len(text) // 2
    return split_to_budget(text[:middle], count_tokens, budget) + split_to_budget(text[middle:], count_tokens, budget)


def _pack(parts: list[str], count_tokens: Callable[[str], int], budget: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}" if current else part
        if count_tokens(candidate) <= budget:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if count_tokens(part) <= budget:
            current = part
        else:
            pieces.extend(split_to_budget(part, count_tokens, budget))
            current = ""
    if current:
        pieces.append(current)
    return pieces


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
