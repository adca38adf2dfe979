"""Structured files (docx, pptx, srt, po, xliff, …) translated through the public document path.

Each block of a file (toolkit.io.formats) becomes a plain-text Document; the Translator segments
it into sentences and translates each sentence as one unit, however many formatting runs it
spans. The formatting is then put back on the translated text by alignment:

1. between sentences, the text the Translator keeps verbatim keeps its own formatting;
2. a sentence inside one run (one style) gets that style, exactly;
3. a sentence spanning runs: a run whose text (three characters or more, or any digit) appears
   verbatim in the translation — names, numbers, URLs, placeholders, which are protected spans —
   keeps its formatting there; the other runs share the rest of the translation in source order
   and in proportion to their source lengths, cut at the nearest word boundary (at a character
   when the stretch has none: a one-word output, or a language written without spaces). No
   text is ever dropped; a run whose words moved in translation (word order differs between
   languages) gets the words at its position, not its own translation (the limit).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from toolkit.errors import InputError
from toolkit.io.documents import Document
from toolkit.io.formats import FORMATS, format_for, read_structured
from toolkit.io.formats.base import Segment, Structured
from toolkit.io.results import DocumentResult, SegmentRecord
from toolkit.options import DocumentOptions
from toolkit.quality.annotate import recorded_document_summary
from toolkit.tasks.translate import DocumentTranslator, Translator

TranslateBatch = Callable[[Sequence[Document]], list[DocumentResult]]
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class FileReport:
    """What happened to one file: structure counts before and after (the written file read
    again), the blocks not translated and why, and the translation's warnings."""

    format: str
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    blocks: int = 0
    translated: int = 0
    spanning: int = 0  # blocks whose sentences span several formatting runs (formatting aligned)
    untranslated: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    segments: list[SegmentRecord] = field(default_factory=list)  # per sentence; ``paragraph`` is the block
    text: str = ""  # the translated file's text, one block a paragraph
    source_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0

    @property
    def structure_kept(self) -> bool:
        return self.counts_before == self.counts_after

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "counts_before": self.counts_before, "counts_after": self.counts_after,
                "structure_kept": self.structure_kept, "blocks": self.blocks, "translated_blocks": self.translated,
                "blocks_spanning_runs": self.spanning, "untranslated": self.untranslated}


def _batch_of(translator: Any) -> TranslateBatch:
    batch = getattr(translator, "translate_batch", None)
    if batch is None:
        raise TypeError(f"expected a Translator (with translate_batch), got {type(translator).__name__}")
    return batch


def translate_file(source: Path | str | bytes, translator: Any, options: DocumentOptions | None = None,
                   name: str | None = None) -> tuple[bytes, FileReport]:
    """Translate a structured file; returns the translated file's bytes (same format, or the
    format's output format: a PDF gives Markdown) and its report.

    ``source`` is a path or the file's bytes (then ``name`` gives the extension, e.g. "talk.srt").
    ``translator`` is a ``toolkit.Translator`` (anything with its ``translate_batch``)."""
    options = options or DocumentOptions()
    if isinstance(source, bytes):
        data, origin = source, name or "<bytes>"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
        origin = name or str(path)
    fmt = format_for(origin, options.format)
    doc = read_structured(fmt, data, origin, options)
    return translate_structured(doc, fmt, _batch_of(translator), origin, options)


def translate_structured(doc: Structured, fmt: Any, translate_batch: TranslateBatch, origin: str,
                         options: DocumentOptions) -> tuple[bytes, FileReport]:
    """The blocks of ``doc`` translated with ``translate_batch`` and written back by ``fmt``."""
    job = FileJob.prepare(doc, fmt, origin, options)
    for group in job.groups():
        job.take(group, translate_batch(job.documents(group)))
    return job.finish()


def open_file(data: bytes, name: str, options: DocumentOptions | None = None) -> FileJob:
    """A structured file's bytes read (``name`` gives the extension, unless ``options.format``
    forces one) as a FileJob: for callers that generate the blocks' translations their own way
    (the server sends them to its dynamic batcher), with the same output as ``translate_file``."""
    options = options or DocumentOptions()
    fmt = format_for(name, options.format)
    return FileJob.prepare(read_structured(fmt, data, name, options), fmt, name, options)


@dataclass
class FileJob:
    """One file's translation in three steps, so that the generate step can be anyone's:
    ``documents(group)`` gives a group of blocks as plain-text Documents, ``take`` puts their
    translations (DocumentResults, as ``Translator.translate_batch`` returns them) back on the
    blocks' formatting, ``finish`` writes the file and reads it again for the structure check.
    ``translate_structured`` is these steps with a Translator; the server's are the same steps
    with its batcher, hence the same bytes."""

    doc: Structured
    fmt: Any
    origin: str
    options: DocumentOptions
    report: FileReport
    translated: list[list[Segment]]
    wanted: list[int]
    names: dict[int, str]
    start: float

    @classmethod
    def prepare(cls, doc: Structured, fmt: Any, origin: str, options: DocumentOptions) -> FileJob:
        start = time.perf_counter()
        report = FileReport(fmt.name, dict(doc.counts), {}, blocks=len(doc.blocks), untranslated=list(doc.skipped))
        wanted = [i for i, b in enumerate(doc.blocks) if b.translate and _LETTER.search(b.text)]
        names: dict[int, str] = {}
        for i in wanted:  # the name in warnings: the block's place, numbered when a place holds several
            where = doc.blocks[i].where
            names[i] = where if where not in names.values() else f"{where} (part {sum(w.startswith(where) for w in names.values()) + 1})"
        for block in doc.blocks:
            if not block.translate:
                report.untranslated.append({"where": block.where, "why": block.why_not or "not translatable"})
        return cls(doc, fmt, origin, options, report, [list(b.segments) for b in doc.blocks], wanted, names, start)

    def groups(self) -> list[list[int]]:
        """The blocks to translate, ``options.blocks_per_batch`` at a time (the memory bound)."""
        size = self.options.blocks_per_batch
        return [self.wanted[first: first + size] for first in range(0, len(self.wanted), size)]

    @property
    def chars(self) -> int:
        """Characters of the blocks to translate (what a character limit counts)."""
        return sum(len(self.doc.blocks[i].text) for i in self.wanted)

    def text(self) -> str:
        """The text to translate, one block a paragraph (language detection)."""
        return "\n\n".join(self.doc.blocks[i].text for i in self.wanted)

    def documents(self, group: Sequence[int]) -> list[Document]:
        return [Document(id=f"{self.origin}: {self.names[i]}", text=self.doc.blocks[i].text.replace("\r", " "),
                         source=f"{self.origin}: {self.names[i]}", format=self.doc.blocks[i].markup) for i in group]

    def take(self, group: Sequence[int], results: Sequence[DocumentResult]) -> None:
        report = self.report
        for i, result in zip(group, results, strict=True):
            self.translated[i], spanning = restyle(self.doc.blocks[i].segments, result)
            report.spanning += spanning
            report.translated += 1
            report.warnings += result.warnings
            lost = dropped_formatting(self.doc.blocks[i].segments, self.translated[i])
            if lost:
                quoted = ", ".join(f"“{_clip(text)}”" for text in lost[:3]) + (" …" if len(lost) > 3 else "")
                report.warnings.append(f"{self.origin}: {self.names[i]}: the translation is too short to carry all "
                                       f"its formatting: that of {quoted} was dropped")
            for record in result.segments:
                record.paragraph = i
            report.segments += result.segments
            report.source_tokens += result.source_tokens
            report.output_tokens += result.output_tokens

    def finish(self) -> tuple[bytes, FileReport]:
        """The translated file's bytes (blocks not given to ``take`` keep their source text) and its report."""
        fmt, origin, report = self.fmt, self.origin, self.report
        output = fmt.write(self.doc, self.translated)
        report.warnings += [f"{origin}: {w}" for w in self.doc.write_warnings]
        after = read_structured(fmt.output_format(), output, f"{origin} (translated)", self.options)
        report.counts_after = dict(after.counts)
        report.text = after.text()
        if not report.structure_kept and fmt.output_format().name == fmt.name:
            report.warnings.append(f"{origin}: the structure changed in translation: {report.counts_before} → "
                                   f"{report.counts_after}")
        report.seconds = time.perf_counter() - self.start
        return output, report

    @property
    def output_suffix(self) -> str:
        """The translated file's extension: the input's, or its format's output format's (.pdf → .md)."""
        suffix = PurePath(self.origin).suffix.lower()
        if self.fmt.output_format().name == self.fmt.name and suffix in self.fmt.extensions:
            return suffix
        return str(self.fmt.output_format().extensions[0])


def document_result(doc: Document, translator: Any, options: DocumentOptions | None = None) -> DocumentResult:
    """A structured file read by ``read_inputs`` (``doc.format`` a format name, ``doc.source`` its
    path) translated as a DocumentResult: the file's bytes to write, its report in ``extra``."""
    options = options or DocumentOptions()
    fmt = FORMATS[doc.format]
    path = Path(doc.source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    structured = read_structured(fmt, data, doc.source, options)
    output, report = translate_structured(structured, fmt, _batch_of(translator), doc.source, options)
    suffix = path.suffix.lower() if fmt.output_format().name == fmt.name else fmt.output_format().extensions[0]
    result = DocumentResult(id=doc.id, source=doc.source, output=report.text, seconds=report.seconds,
                            source_tokens=report.source_tokens, output_tokens=report.output_tokens,
                            segments=report.segments, warnings=report.warnings,
                            extra={"document": report.to_dict()}, file=output, file_suffix=suffix)
    quality = recorded_document_summary(result)
    if quality is not None:
        result.extra["quality"] = quality
    return result


def _route(translator: Translator | DocumentTranslator, doc: Document) -> Translator:
    """The Translator for one file: a DocumentTranslator's route for its language, with its glossary."""
    if isinstance(translator, DocumentTranslator):
        chosen = translator.translator_for(doc)
        return chosen.with_glossary(translator.glossary) if translator.glossary is not None else chosen
    return translator


def with_structured_files(translator: Translator | DocumentTranslator, options: DocumentOptions | None = None
                          ) -> Callable[[Sequence[Document], Callable[[int], None] | None], list[DocumentResult]]:
    """``translator.translate_batch`` that also takes structured files (docx, srt, po, …): those go
    through ``translate_file`` (with the translator of their language, for a DocumentTranslator),
    the others through the translator as they are; results keep the input order."""

    def translate_batch(docs: Sequence[Document], on_batch: Callable[[int], None] | None = None
                        ) -> list[DocumentResult]:
        plain = [d for d in docs if d.format not in FORMATS]
        done = iter(translator.translate_batch(plain, on_batch)) if plain else iter(())
        results = []
        for doc in docs:
            if doc.format not in FORMATS:
                results.append(next(done))
                continue
            results.append(document_result(doc, _route(translator, doc), options))
            if on_batch is not None:
                on_batch(len(results[-1].segments))
        return results

    return translate_batch


# --- formatting put back on translated text --------------------------------------------------

def restyle(segments: Sequence[Segment], result: DocumentResult) -> tuple[list[Segment], int]:
    """The translation of a block as segments carrying the source's styles (see the module
    docstring for the rule); the second value is 1 when a sentence spanned several styles."""
    source = "".join(s.text for s in segments)
    output = result.output
    styles = [s.style for s in segments if s.text.strip()] or [segments[0].style if segments else ""]
    if len(set(styles)) == 1:
        return ([Segment(output, styles[0])] if output else []), 0
    char_styles = [s.style for s in segments for _ in s.text]
    out_styles: list[str | None] = [None] * len(output)
    pairs: list[tuple[int, int, int, int]] = []
    s_cursor = o_cursor = 0
    for record in result.segments:
        a, c = source.find(record.source, s_cursor), output.find(record.output, o_cursor)
        if a < 0 or c < 0:
            pairs = []
            break
        pairs.append((a, a + len(record.source), c, c + len(record.output)))
        s_cursor, o_cursor = a + len(record.source), c + len(record.output)
    if not pairs:  # alignment lost: the whole block is one spanning stretch
        _map_span(char_styles, 0, len(source), source, out_styles, 0, len(output), output)
    else:
        prev_s = prev_o = 0
        for a, b, c, d in [*pairs, (len(source), len(source), len(output), len(output))]:
            _map_span(char_styles, prev_s, a, source, out_styles, prev_o, c, output)  # kept verbatim
            if b > a:
                _map_span(char_styles, a, b, source, out_styles, c, d, output)
            prev_s, prev_o = b, d
    spanning = int(any(len({char_styles[i] for i in range(a, b) if not source[i].isspace()}) > 1
                       for a, b, _, _ in pairs)) if pairs else 1
    merged: list[Segment] = []
    for ch, style in zip(output, out_styles):
        style = style if style is not None else styles[0]
        if merged and merged[-1].style == style:
            merged[-1].text += ch
        else:
            merged.append(Segment(ch, style))
    return merged, spanning


def dropped_formatting(segments: Sequence[Segment], styled: Sequence[Segment]) -> list[str]:
    """The source stretches (text, in order) whose style no visible character of the restyled
    translation carries: a translation shorter than the runs it replaces (a one-word output for
    three runs) cannot carry them all, and their bold or italic is gone. An empty translation
    loses its text, not its formatting: nothing is reported for it here."""
    kept = {s.style for s in styled if s.text.strip()}
    if not kept:
        return []
    return [s.text.strip() for s in segments if s.text.strip() and s.style not in kept]


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _runs(char_styles: Sequence[str], a: int, b: int) -> list[tuple[str, int, int]]:
    runs: list[tuple[str, int, int]] = []
    for i in range(a, b):
        if runs and runs[-1][0] == char_styles[i]:
            runs[-1] = (runs[-1][0], runs[-1][1], i + 1)
        else:
            runs.append((char_styles[i], i, i + 1))
    return runs


def _map_span(char_styles: Sequence[str], a: int, b: int, source: str, out_styles: list[str | None],
              c: int, d: int, output: str) -> None:
    """Give output[c:d] the styles of source[a:b]."""
    if d <= c:
        return
    if b <= a:  # nothing in the source: the previous style continues
        return
    if source[a:b] == output[c:d]:
        out_styles[c:d] = char_styles[a:b]
        return
    runs = _runs(char_styles, a, b)
    if len(runs) == 1:
        out_styles[c:d] = [runs[0][0]] * (d - c)
        return
    # Anchors: runs found verbatim (in order) in the output.
    anchored: list[tuple[int, int, int]] = []  # (run index, output start, output end)
    cursor = c
    for index, (_, ra, rb) in enumerate(runs):
        needle = source[ra:rb].strip()
        if len(needle) >= 3 or any(ch.isdigit() for ch in needle):
            found = output.find(needle, cursor, d)
            if found >= 0:
                anchored.append((index, found, found + len(needle)))
                cursor = found + len(needle)
    for index, x, y in anchored:
        out_styles[x:y] = [runs[index][0]] * (y - x)
    edges = [(-1, c, c), *anchored, (len(runs), d, d)]
    for (i0, _, o0), (i1, o1, _) in zip(edges, edges[1:]):
        between = runs[i0 + 1: i1]
        if not between or o1 <= o0:
            if o1 > o0:  # no run left for this stretch: it continues the run before (or after)
                style = runs[i0][0] if i0 >= 0 else runs[min(i1, len(runs) - 1)][0]
                out_styles[o0:o1] = [style] * (o1 - o0)
            continue
        weights = [rb - ra for _, ra, rb in between]
        total = sum(weights)
        cuts = [o0]
        acc = 0
        for w in weights[:-1]:
            acc += w
            cuts.append(_snap(output, o0 + round((o1 - o0) * acc / total), max(cuts[-1], o0), o1))
        cuts.append(o1)
        for (style, _, _), x, y in zip(between, cuts, cuts[1:]):
            out_styles[x:y] = [style] * (y - x)


def _snap(text: str, position: int, low: int, high: int) -> int:
    """The word boundary (just after a space) nearest ``position`` strictly inside (low, high);
    without one (a one-word stretch, or a language written without spaces) ``position`` itself."""
    best = None
    for i in range(low + 1, high):
        boundary = text[i - 1].isspace() and not text[i].isspace()
        if boundary and (best is None or abs(i - position) < abs(best - position)):
            best = i
    return best if best is not None else min(max(position, low), high)
