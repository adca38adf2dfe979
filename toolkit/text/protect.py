"""Protected spans: the parts of a sentence a model must never see or change.

URLs, e-mail addresses, @handles, file paths and format placeholders (``{name}``, ``%s``) in any
text; in Markdown also code spans, autolinks, HTML tags and comments, and the syntax of links and
images (``[`` and ``](target)``: the link text is translated, the target is not).

A sentence is cut into pieces, alternately text to translate and protected spans. Only the text
pieces reach the model; the protected ones are put back verbatim, in order, by ``restore``, which
also keeps a model's output from adding a line break, a table-cell pipe or a copy of a protected
span, so each protected span appears in the output exactly as often as in the source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# (kind, pattern, groups to protect or None for the whole match), highest priority first: a
# candidate overlapping an accepted span is dropped, so a URL inside a code span stays code.
_MARKDOWN_PATTERNS: list[tuple[str, re.Pattern[str], tuple[int, ...] | None]] = [
    ("code", re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)"), None),
    ("html-comment", re.compile(r"<!--.*?-->"), None),
    ("autolink", re.compile(r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>"), None),
    ("html-tag", re.compile(r"</?[A-Za-z][\w:-]*(?:\s+[^<>]*?)?/?>"), None),
    ("footnote", re.compile(r"\[\^[^\]\s]+\]"), None),
    # [text](target "title") and ![alt](src): the brackets and target are kept, the text translated.
    ("link", re.compile(r"(!?\[)[^\[\]\n]*(\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\))"), (1, 2)),
    ("link", re.compile(r"(!?\[)[^\[\]\n]*(\]\[[^\[\]\n]*\])"), (1, 2)),
]
_TEXT_PATTERNS: list[tuple[str, re.Pattern[str], tuple[int, ...] | None]] = [
    # A URL does not end with sentence punctuation; parentheses are kept only when balanced.
    ("url", re.compile(r"\b(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)(?:[^\s<>\[\]{}\"«»()]|\([^\s()<>]*\))*"
                       r"(?:[^\s<>\[\]{}\"«».,;:!?'’()]|\([^\s()<>]*\))"), None),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), None),
    ("placeholder", re.compile(r"\{\{[^{}\n]*\}\}|\$\{\w+\}|\{[\w.:\[\]!<>^-]*\}"), None),
    ("placeholder", re.compile(r"%(?:\([A-Za-z_]\w*\))?[-+#0]*\d*(?:\.\d+)?[sdifgxXeEr](?!\w)"), None),
    ("path", re.compile(r"\b[A-Za-z]:\\(?:[\w .-]+\\)*[\w.-]+"), None),
    ("path", re.compile(r"(?<![\w/.@:])(?:~|\.{1,2})?/(?:[\w.-]+/)*[\w-](?:[\w.-]*[\w-])?"), None),
    ("path", re.compile(r"(?<![\w/.@])(?:[\w-]+/)+[\w-]+\.[A-Za-z0-9]{1,5}\b"), None),
    ("path", re.compile(r"\b[\w-]+\.(?:py|md|txt|json|jsonl|ya?ml|toml|csv|tsv|html?|css|js|ts|sh|cfg|ini|xml|pdf"
                        r"|png|jpe?g|gif|svg|zip|gz|tar|log|sql|ipynb|docx?|xlsx?)\b"), None),
    ("handle", re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?"), None),
]


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def find_protected(text: str, markdown: bool = False) -> list[Span]:
    """Non-overlapping protected spans of ``text``, in order."""
    patterns = (_MARKDOWN_PATTERNS if markdown else []) + _TEXT_PATTERNS
    accepted: list[Span] = []
    for kind, pattern, groups in patterns:
        for match in pattern.finditer(text):
            bounds = [match.span(g) for g in groups] if groups else [match.span()]
            candidates = [Span(a, b, kind) for a, b in bounds if b > a]
            if candidates and not any(_overlaps(c, s) for c in candidates for s in accepted):
                accepted.extend(candidates)
    return sorted(accepted, key=lambda s: s.start)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


_LEAD = re.compile(r"[\s,;:.!?)\]}»”’…]*")


@dataclass(frozen=True)
class Piece:
    """A slice of a sentence: protected (kept verbatim) or text (``lead`` + ``core`` + ``trail``,
    of which only ``core`` is translated; a piece without letters is kept verbatim too)."""

    text: str
    protected: bool
    replacement: str | None = None  # a glossary placeholder: what the output has in its place

    @property
    def translatable(self) -> bool:
        return not self.protected and any(ch.isalpha() for ch in self.text)

    @property
    def lead(self) -> str:
        """Leading spaces, and the punctuation that closes what came before (", " after a URL or
        a glossary term): kept verbatim, so the translation does not stick to the span."""
        match = _LEAD.match(self.text)
        return match.group() if match else ""

    @property
    def trail(self) -> str:
        return self.text[len(self.text.rstrip()):]

    @property
    def core(self) -> str:
        return self.text[len(self.lead): len(self.text) - len(self.trail)]


def pieces(sentence: str, spans: Sequence[tuple[int, int]]) -> list[Piece]:
    """Cut ``sentence`` at its protected spans (offsets into the sentence)."""
    out: list[Piece] = []
    position = 0
    for start, end in sorted(spans):
        if start > position:
            out.append(Piece(sentence[position:start], False))
        out.append(Piece(sentence[start:end], True))
        position = end
    if position < len(sentence):
        out.append(Piece(sentence[position:], False))
    return out


_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def forbidden_strings(all_parts: Sequence[Sequence[Piece]]) -> list[str]:
    """A document's protected spans of two or more characters, longest first: a model output that
    contains one loses it (a one-character span such as a link's ``[`` is common in text)."""
    texts = {p.text for parts in all_parts for p in parts
             if p.protected and p.replacement is None and len(p.text.strip()) >= 2}
    return sorted(texts, key=len, reverse=True)


def restore(parts: Sequence[Piece], outputs: Sequence[str], forbidden: Sequence[str] = (),
            table_cell: bool = False, escape: Callable[[str], str] | None = None) -> tuple[str, int]:
    """Rebuild a sentence from its pieces, ``outputs`` standing for the translatable ones in order.

    Returns the sentence and how many model outputs had to be cleaned: a line break (a line stays
    a line), an unescaped pipe in a table cell (escaped), or a copy of a ``forbidden`` string.
    ``escape`` (HTML) applies to the outputs last."""
    rendered: list[str] = []
    cleaned = 0
    remaining = iter(outputs)
    for part in parts:
        if not part.translatable:
            if part.replacement is None:
                rendered.append(part.text)
            else:
                rendered.append(escape(part.replacement) if escape is not None else part.replacement)
            continue
        output = next(remaining)
        clean = " ".join(output.splitlines()) if ("\n" in output or "\r" in output) else output
        for span in forbidden:
            clean = clean.replace(span, "")
        if table_cell:
            clean = _UNESCAPED_PIPE.sub(r"\\|", clean)
        cleaned += clean != output
        if escape is not None:
            clean = escape(clean)
        rendered.append(part.lead + clean.strip() + part.trail)
    return "".join(rendered), cleaned
