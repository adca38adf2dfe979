"""Translation of documents in three steps, the same for every caller (CLI, Python API, server):

- ``plan``: documents → a :class:`Plan` — their segmentation, and the translatable units (the text
  pieces of each sentence, with protected spans and glossary terms taken out, HTML entities decoded);
- generate: the units' texts → :class:`UnitResults`, one record per unit. This is the only step that
  differs between callers: a :class:`SentenceTranslator` (an engine, or a pivot of several) for the
  CLI and the API, the model's dynamic batcher for the server;
- ``restore``: plan + unit results → one DocumentResult per document (spans and terms put back,
  structure kept, warnings per sentence).

Pivoting (:class:`PivotTranslator`) and routing by language (:class:`DocumentTranslator`) wrap
sentence translators; a glossary is an input of the plan, given to a :class:`Translator` instance.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from toolkit.config import Defaults, default_translation_model
from toolkit.engines.base import Engine
from toolkit.engines.loader import load_engine, with_free_confidence
from toolkit.errors import ModelError, RouteError, ToolkitError
from toolkit.io.documents import Document, as_documents, chunked
from toolkit.io.results import DocumentResult, SegmentRecord, weighted_confidence
from toolkit.models.registry import Hop, Registry, Route, hop_for_model, load_registry, resolve_route
from toolkit.options import EngineOptions, GenerationOptions, LanguageCodes, QualityOptions, build, split_options
from toolkit.tasks.memory import UnitCounts, compose, counts_of
from toolkit.text.glossary import Glossary
from toolkit.text.protect import Piece, forbidden_strings, pieces
from toolkit.text.protect import restore as restore_pieces
from toolkit.text.segment import (
    Paragraph,
    SegmentedDocument,
    segment_document,
    segment_html,
    split_to_budget,
    word_separator,
)

FORMATS = ("txt", "md", "html")


def segment(doc: Document, lang: str) -> SegmentedDocument:
    """A document's paragraphs and sentences, by its format (Markdown, HTML or plain text)."""
    if doc.format == "html":
        return segment_html(doc.text, lang)
    return segment_document(doc.text, lang, markdown=doc.format == "md")


def document_from_text(text: str, doc_id: str, format: str = "txt", source: str = "<text>") -> Document:
    """A text as `toolkit translate` reads a file of that ``format``: CRLF or CR newlines become LF,
    and the result's ``newline`` remembers CRLF, so the output can be written back in that style."""
    newline = "\r\n" if "\r\n" in text else "\n"
    return Document(id=doc_id, text=text.replace("\r\n", "\n").replace("\r", "\n"), source=source, format=format,
                    newline=newline)


# -- plan → generate → restore ---------------------------------------------------------------------

@dataclass
class PlannedSentence:
    """One source sentence cut into pieces (text to translate, spans and terms to put back)."""

    parts: list[Piece]
    paragraph: Paragraph
    forbidden: list[str]  # protected spans a model output must not copy (see toolkit.text.protect)


@dataclass
class Plan:
    """What translating ``docs`` takes: the model reads ``texts``; ``restore`` needs the rest."""

    docs: list[Document]
    segmented: list[SegmentedDocument]
    sentences: list[PlannedSentence]  # every sentence of every document, in document order
    units: list[tuple[int, str]]  # (index in ``sentences``, the text the model reads)
    glossary_counts: list[Counter[str]]  # per document: glossary terms applied
    target_lang: str
    glossary: bool = False  # a glossary was given (the results then count its terms)

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.units]


@dataclass
class UnitResults:
    """The generate step's answer: one record per unit of a plan (output, pieces, tokens, pivot
    ``via``), and warnings as (unit index, message)."""

    records: list[SegmentRecord]
    warnings: list[tuple[int, str]] = field(default_factory=list)
    # Per unit, the hypotheses of an n-best search (best first), when alternatives are asked for.
    hypotheses: list[list[str]] | None = None

    def split(self) -> list[tuple[SegmentRecord, list[str]]]:
        """Per unit: its record and its warnings (what a batcher hands back to each request)."""
        messages: list[list[str]] = [[] for _ in self.records]
        for index, message in self.warnings:
            messages[index].append(message)
        return list(zip(self.records, messages))

    @classmethod
    def join(cls, per_unit: Sequence[tuple[SegmentRecord, list[str]]]) -> UnitResults:
        return cls([record for record, _ in per_unit],
                   [(index, message) for index, (_, messages) in enumerate(per_unit) for message in messages])


def plan(docs: Sequence[Document], source_lang: str, target_lang: str, glossary: Glossary | None = None) -> Plan:
    """Segment ``docs`` and cut each sentence into text pieces and protected spans; with a glossary,
    its terms become protected pieces too (restored as their targets). No model is involved."""
    segmented = [segment(doc, source_lang) for doc in docs]
    sentences: list[PlannedSentence] = []
    applied: list[Counter[str]] = []
    for seg in segmented:
        doc_parts = [pieces(text, seg.paragraphs[p].protected[s] if seg.paragraphs[p].protected else [])
                     for p, s, text in seg.sentences]
        applied.append(Counter())
        if glossary is not None:
            for i, parts in enumerate(doc_parts):
                doc_parts[i], counts = glossary.apply(parts)
                applied[-1].update(counts)
        forbidden = forbidden_strings(doc_parts)
        sentences += [PlannedSentence(parts, seg.paragraphs[p], forbidden)
                      for parts, (p, _, _) in zip(doc_parts, seg.sentences)]
    # HTML: the model reads decoded text ("&eacute;" → "é"); its outputs are escaped again.
    units = [(owner, html.unescape(part.core) if sentence.paragraph.markup else part.core)
             for owner, sentence in enumerate(sentences) for part in sentence.parts if part.translatable]
    return Plan(list(docs), segmented, sentences, units, applied, target_lang, glossary is not None)


def restore(planned: Plan, generated: UnitResults, seconds: float = 0.0, alternatives: int = 0) -> list[DocumentResult]:
    """One result per planned document: the units' outputs put back between the protected spans,
    the sentences back in their paragraphs. ``seconds`` (the run's time) is apportioned by each
    document's share of the source tokens. ``alternatives`` > 0 (with ``generated.hypotheses``):
    each sentence and each document also gets at most that many other translations
    (:func:`sentence_alternatives`, :func:`document_alternatives`)."""
    if len(generated.records) != len(planned.units):
        raise ValueError(f"{len(generated.records)} unit results for a plan of {len(planned.units)} units")
    if alternatives and (generated.hypotheses is None or len(generated.hypotheses) != len(planned.units)):
        raise ValueError("alternatives asked for without one list of hypotheses per unit")
    per_sentence: list[list[SegmentRecord]] = [[] for _ in planned.sentences]
    for (owner, _), record in zip(planned.units, generated.records):
        per_sentence[owner].append(record)
    hypotheses: list[list[list[str]]] = [[] for _ in planned.sentences]
    for (owner, _), unit_hypotheses in zip(planned.units, generated.hypotheses or []):
        hypotheses[owner].append(unit_hypotheses)
    raw_warnings = [(planned.units[i][0], message) for i, message in generated.warnings]
    records = []
    for index, (sentence, done) in enumerate(zip(planned.sentences, per_sentence)):
        paragraph, parts, forbidden = sentence.paragraph, sentence.parts, sentence.forbidden
        escape = None if not paragraph.markup else partial(html.escape, quote=paragraph.markup == "html-attribute")
        output, cleaned = restore_pieces(parts, [r.output for r in done], forbidden, paragraph.table_row, escape)
        hops = len(done[0].via) if done else 0
        records.append(SegmentRecord(
            0, 0, "".join(part.text for part in parts), output,
            pieces=sum(r.pieces for r in done),
            source_tokens=sum(r.source_tokens for r in done),
            output_tokens=sum(r.output_tokens for r in done),
            via=[restore_pieces(parts, [r.via[k] for r in done], forbidden, paragraph.table_row, escape)[0]
                 for k in range(hops)],
            protected=sum(part.protected and part.replacement is None for part in parts),
            glossary=sum(part.replacement is not None for part in parts),
            confidence=weighted_confidence([(r.confidence, r.output_tokens) for r in done]),
            truncated=True if any(r.truncated for r in done) else None,
            spans=[part.text for part in parts if part.protected and part.replacement is None],
            terms={part.text: part.replacement for part in parts if part.replacement is not None},
        ))
        if alternatives:
            records[-1].alternatives = sentence_alternatives(
                output, [r.output for r in done], hypotheses[index], alternatives,
                partial(put_back, parts, forbidden=forbidden, table_cell=paragraph.table_row, escape=escape))
        if cleaned:
            raw_warnings.append((index, (f"{cleaned} model output(s) held a line break, a table pipe or a copy "
                                         "of a protected span: removed or escaped")))
    # In sentence order (stable: a sentence's own messages keep theirs), whatever order the
    # generate step found them in: deduplicated and memory-served units give the same warnings.
    raw_warnings.sort(key=lambda warning: warning[0])
    total_tokens = sum(r.source_tokens for r in records) or 1
    results = []
    offset = 0
    for doc, seg, counts in zip(planned.docs, planned.segmented, planned.glossary_counts):
        located = seg.sentences
        doc_records = records[offset: offset + len(located)]
        outputs: list[list[str]] = [[] for _ in seg.paragraphs]
        for (p, s, _), record in zip(located, doc_records):
            record.paragraph, record.sentence = p, s
            outputs[p].append(record.output)
        warnings = [f"{doc.id}: paragraph {located[i - offset][0] + 1}, sentence {located[i - offset][1] + 1}: {message}"
                    for i, message in raw_warnings if offset <= i < offset + len(located)]
        source_tokens = sum(r.source_tokens for r in doc_records)
        separator = word_separator(planned.target_lang)
        output = seg.reassemble(outputs, separator)
        results.append(DocumentResult(
            id=doc.id,
            source=doc.source,
            output=output,
            seconds=seconds * source_tokens / total_tokens,
            source_tokens=source_tokens,
            output_tokens=sum(r.output_tokens for r in doc_records),
            segments=doc_records,
            warnings=warnings,
            newline=doc.newline,
            alternatives=document_alternatives(output, located, doc_records, len(seg.paragraphs), alternatives,
                                               partial(seg.reassemble, empty_separator=separator))
            if alternatives else None,
        ))
        if planned.glossary:
            results[-1].extra["glossary"] = {"applied": sum(counts.values()), "per_term": dict(sorted(counts.items()))}
        offset += len(located)
    return results


def put_back(parts: Sequence[Piece], outputs: Sequence[str], forbidden: Sequence[str] = (), table_cell: bool = False,
             escape: Callable[[str], str] | None = None) -> str:
    """A sentence rebuilt from its pieces with ``outputs`` for its units (protected spans and
    glossary terms put back as for the translation)."""
    return restore_pieces(parts, outputs, forbidden, table_cell, escape)[0]


def distinct(candidates: Iterable[str], translation: str, count: int) -> list[str]:
    """At most ``count`` of ``candidates``, in order, without repeats, without ``translation``
    itself and without empty strings (LibreTranslate's ``filter_unique``)."""
    seen = {translation, ""}
    kept: list[str] = []
    for candidate in candidates:
        if candidate not in seen and len(kept) < count:
            seen.add(candidate)
            kept.append(candidate)
    return kept


def sentence_alternatives(output: str, unit_outputs: list[str], unit_hypotheses: list[list[str]], count: int,
                          put_back: Callable[[list[str]], str]) -> list[str]:
    """A sentence's other translations: the k-th is the sentence with each of its units' k-th
    alternative hypothesis (a unit's hypotheses other than its translation, in the search's order;
    a unit with fewer keeps its translation), its spans and terms put back by ``put_back``."""
    if not unit_outputs:
        return []
    others = [distinct(hyps, best, count) for best, hyps in zip(unit_outputs, unit_hypotheses)]
    candidates = (put_back([unit[k] if k < len(unit) else best for best, unit in zip(unit_outputs, others)])
                  for k in range(max(len(unit) for unit in others)))
    return distinct(candidates, output, count)


def document_alternatives(output: str, located: Sequence[tuple[int, int, str]], records: Sequence[SegmentRecord],
                          paragraphs: int, count: int, reassemble: Callable[[list[list[str]]], str]) -> list[str]:
    """A text's other translations, as Argos Translate (LibreTranslate's engine) builds them: the
    k-th is the text with every sentence's k-th alternative (a sentence with fewer keeps its
    translation); repeats and copies of the translation left out, at most ``count``."""
    depth = max((len(r.alternatives or []) for r in records), default=0)
    candidates = []
    for k in range(depth):
        texts: list[list[str]] = [[] for _ in range(paragraphs)]
        for (p, _, _), record in zip(located, records):
            others = record.alternatives or []
            texts[p].append(others[k] if k < len(others) else record.output)
        candidates.append(reassemble(texts))
    return distinct(candidates, output, count)


# -- sentence translators (the generate step) ------------------------------------------------------

@runtime_checkable
class SentenceTranslator(Protocol):
    """Sentences in, one record each (and warnings as (sentence index, message)): what the
    document path needs from a model. An engine (:class:`EngineTranslator`) or several in a row
    (:class:`PivotTranslator`)."""

    source_lang: str
    target_lang: str

    def translate_sentences(self, sentences: Sequence[str], on_batch: Callable[[int], None] | None = None
                            ) -> tuple[list[SegmentRecord], list[tuple[int, str]]]: ...

    def translate_hypotheses(self, sentences: Sequence[str], count: int) -> list[list[str]]:
        """Per sentence, the ``count`` best hypotheses of an n-best search, best first (for
        alternatives; the translation itself comes from ``translate_sentences``)."""
        ...

    def describe(self) -> dict[str, Any]: ...


class EngineTranslator:
    """One model (torch or CTranslate2 engine) for one language pair.

    Long sentences are split to the model's input limit and their pieces translated separately;
    every split and every output that reached the length limit is reported as a warning."""

    def __init__(self, engine: Engine, source_lang: str, target_lang: str, hop: Hop | None = None) -> None:
        self.engine = engine
        self.source_lang = source_lang
        self.target_lang = target_lang
        reference = engine.ref.reference if engine.ref else "?"
        self.hop = hop or Hop(reference, source_lang, target_lang, "explicit")

    def describe(self) -> dict[str, Any]:
        """The manifest's account of the model and the settings actually used."""
        return {**self.engine.manifest(), "source_lang": self.source_lang, "target_lang": self.target_lang,
                "route": {"kind": self.hop.kind, "hops": [asdict(self.hop)]}}

    def translate_sentences(self, sentences: Sequence[str],
                            on_batch: Callable[[int], None] | None = None) -> tuple[list[SegmentRecord], list[tuple[int, str]]]:
        """Translate sentences one-to-one; returns alignment records and (sentence index, warning)."""
        budget = self.engine.input_limit
        parts: list[str] = []
        owners: list[int] = []
        warnings: list[tuple[int, str]] = []
        for index, sentence in enumerate(sentences):
            split = split_to_budget(sentence, self.engine.count_tokens, budget)
            if len(split) > 1:
                warnings.append((index, (f"longer than the model's {budget}-token input limit: "
                                          f"split into {len(split)} pieces translated separately")))
            parts.extend(split)
            owners.extend([index] * len(split))
        generated = self.engine.generate(parts, on_batch)
        records = [SegmentRecord(0, i, s, "", 0) for i, s in enumerate(sentences)]
        scores: list[list[tuple[float | None, int]]] = [[] for _ in sentences]
        for owner, gen in zip(owners, generated):
            record = records[owner]
            record.output = f"{record.output} {gen.text}".strip()
            record.pieces += 1
            record.source_tokens += gen.source_tokens
            record.output_tokens += gen.output_tokens
            scores[owner].append((gen.confidence, gen.output_tokens))
            if gen.hit_length_limit:
                record.truncated = True
                limit = self.engine.output_limit(gen.source_tokens)
                warnings.append((owner, f"output reached the {limit}-token generation limit and may be cut"))
        for record, parts_scores in zip(records, scores):
            record.confidence = weighted_confidence(parts_scores)
        return records, warnings

    def translate_hypotheses(self, sentences: Sequence[str], count: int) -> list[list[str]]:
        """A sentence split to the input limit: its k-th hypothesis joins its pieces' k-th (a piece
        with fewer gives its last)."""
        parts: list[str] = []
        owners: list[int] = []
        for index, sentence in enumerate(sentences):
            split = split_to_budget(sentence, self.engine.count_tokens, self.engine.input_limit)
            parts.extend(split)
            owners.extend([index] * len(split))
        pieces_of: list[list[list[str]]] = [[] for _ in sentences]
        for owner, hyps in zip(owners, self.engine.hypotheses(parts, count)):
            pieces_of[owner].append(hyps)
        return [[" ".join(p[min(k, len(p) - 1)] for p in pieces).strip() for k in range(max(len(p) for p in pieces))]
                if pieces else [] for pieces in pieces_of]


class PivotTranslator:
    """Two (or more) sentence translators in a row, sentence by sentence: every source sentence
    keeps its alignment to the final output, and the intermediate translations are recorded (``via``).

    A pivoted sentence's confidence is its least confident hop's (an error in any hop carries
    through to the output, so the chain is as trustworthy as its weakest link), unknown when any
    hop's is; it is truncated when any hop was."""

    def __init__(self, hops: Sequence[SentenceTranslator], route: Route) -> None:
        if len(hops) < 2:
            raise ValueError("a pivot needs at least two hops")
        self.hops = list(hops)
        self.route = route
        self.source_lang, self.target_lang = route.src, route.tgt

    def describe(self) -> dict[str, Any]:
        first = self.hops[0].describe()
        return {"source_lang": self.source_lang, "target_lang": self.target_lang, "route": self.route.to_dict(),
                "model": first.get("model"), "backend": first.get("backend"),
                "hops": [hop.describe() for hop in self.hops]}

    def translate_sentences(self, sentences: Sequence[str],
                            on_batch: Callable[[int], None] | None = None) -> tuple[list[SegmentRecord], list[tuple[int, str]]]:
        records, warnings = self.hops[0].translate_sentences(sentences, on_batch)
        for hop in self.hops[1:]:
            following, more = hop.translate_sentences([r.output for r in records])
            for record, nxt in zip(records, following):
                record.via.append(record.output)
                record.output = nxt.output
                record.output_tokens = nxt.output_tokens
                record.confidence = (None if record.confidence is None or nxt.confidence is None
                                     else min(record.confidence, nxt.confidence))
                record.truncated = True if record.truncated or nxt.truncated else None
            warnings += [(i, f"{hop.source_lang}→{hop.target_lang}: {message}") for i, message in more]
        return records, warnings

    def translate_hypotheses(self, sentences: Sequence[str], count: int) -> list[list[str]]:
        """The last hop's hypotheses for the earlier hops' translations (not a product of every
        hop's hypotheses: alternatives differ in the final wording, the pivot text stays one)."""
        texts = list(sentences)
        for hop in self.hops[:-1]:
            texts = [record.output for record in hop.translate_sentences(texts)[0]]
        return self.hops[-1].translate_hypotheses(texts, count)


# -- documents -------------------------------------------------------------------------------------

class Translator:
    """Translate documents (txt, Markdown, HTML) with a sentence translator, MarianMT by default:
    plan → generate → restore, with the glossary (and ``--keep`` terms) this instance was given.

        >>> tr = Translator.from_pretrained("Helsinki-NLP/opus-mt-fr-en", backend="ct2")  # or a folder
        >>> tr.translate(["Bonjour le monde."])
    """

    def __init__(self, sentences: SentenceTranslator, glossary: Glossary | None = None,
                 generator: SentenceTranslator | None = None, quality: QualityOptions | None = None,
                 fallback: SentenceTranslator | None = None) -> None:
        self.sentences = sentences
        self.glossary = glossary
        # With quality options, every result is assessed (toolkit.quality.annotate): each sentence
        # gets its flags and risk, each document extra["quality"]; the run's statistics are
        # learned from each translate_batch call's documents together.
        self.quality = quality
        # ``quality.on_risk``: "pivot" translates likely-wrong sentences again with ``fallback``;
        # "retry" with ``sentences`` under a stricter search (toolkit.tasks.fallback).
        self.fallback = fallback
        self._retry: SentenceTranslator | None = None
        # What the generate step calls: ``sentences`` itself, or it behind deduplication and a
        # translation memory (toolkit.tasks.memory; from_pretrained sets it from EngineOptions).
        self.generator = generator if generator is not None else sentences

    @classmethod
    def from_engine(cls, engine: Engine, source_lang: str, target_lang: str, hop: Hop | None = None,
                    glossary: Glossary | None = None) -> Translator:
        return cls(EngineTranslator(engine, source_lang, target_lang, hop), glossary)

    @classmethod
    def from_pretrained(cls, reference: str | None = None, source_lang: str = "fr", target_lang: str = "en", *,
                        engine: EngineOptions | None = None, generation: GenerationOptions | None = None,
                        hop: Hop | None = None, glossary: Glossary | None = None,
                        quality: QualityOptions | None = None, **options: Any) -> Translator:
        """A hub id or local folder (default: the configured model for the pair). Options come
        as objects (``engine=EngineOptions(...)``) or by field name (``backend="ct2"``, ``num_beams=4``).
        ``quality=QualityOptions()`` assesses every sentence (flags, risk), with the model's
        confidence where it is free (ct2; torch only with ``confidence=True``)."""
        engine_options, generation_options = split_options(options, engine, generation)
        if quality is not None:
            engine_options = with_free_confidence(engine_options)
        reference = reference or (hop.model if hop else default_translation_model(source_lang, target_lang))
        codes = LanguageCodes(source_prefix=hop.source_prefix, src_code=hop.src_code,
                              tgt_code=hop.tgt_code) if hop else None
        loaded = load_engine(reference, "translation", engine_options, generation_options, codes)
        sentences = EngineTranslator(loaded, source_lang, target_lang, hop)
        return cls(sentences, glossary, with_memory(sentences, engine_options), quality)

    def with_glossary(self, glossary: Glossary | None) -> Translator:
        """The same model with other glossary terms (nothing is loaded again)."""
        return Translator(self.sentences, glossary, self.generator, self.quality, self.fallback)

    def with_quality(self, quality: QualityOptions | None) -> Translator:
        """The same model, its results assessed with ``quality`` (None: not assessed)."""
        return Translator(self.sentences, self.glossary, self.generator, quality, self.fallback)

    def with_fallback(self, fallback: SentenceTranslator | None) -> Translator:
        """The same model; ``--on-risk pivot`` sends likely-wrong sentences to ``fallback``."""
        return Translator(self.sentences, self.glossary, self.generator, self.quality, fallback)

    @property
    def source_lang(self) -> str:
        return self.sentences.source_lang

    @property
    def target_lang(self) -> str:
        return self.sentences.target_lang

    @property
    def engine(self) -> Engine:
        """The engine of a one-model translator (a pivot has one per hop: ``sentences.hops``)."""
        if not isinstance(self.sentences, EngineTranslator):
            raise AttributeError(f"{type(self.sentences).__name__} has no single engine")
        return self.sentences.engine

    @property
    def hop(self) -> Hop:
        if not isinstance(self.sentences, EngineTranslator):
            raise AttributeError(f"{type(self.sentences).__name__} has no single hop")
        return self.sentences.hop

    @property
    def counts(self) -> UnitCounts:
        """How this translator's units were served so far: decoded, deduplicated, from the memory."""
        return counts_of(self.generator) or UnitCounts()

    def describe(self) -> dict[str, Any]:
        """The manifest's account of the model(s) and the settings actually used."""
        return self.sentences.describe()

    def translate(self, texts: Sequence[str], format: str = "txt") -> list[str]:
        """One translation per text, each segmented, translated and reassembled exactly as
        `toolkit translate` does with a file of that ``format`` (txt, md or html)."""
        if format not in FORMATS:
            raise ToolkitError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
        docs = list(as_documents(texts))
        for doc in docs:
            doc.format = format
        return [result.output for result in self.translate_batch(docs)]

    def translate_documents(self, docs: Iterable[Document | str], chunk_size: int = 256) -> Iterator[DocumentResult]:
        """Results in input order, with per-sentence alignment, tokens, timing and warnings.
        Documents are read lazily and translated ``chunk_size`` at a time (sentences of a chunk
        share batches), so an iterator over a large corpus is never held in memory."""
        for chunk in chunked(as_documents(docs), chunk_size):
            yield from self.translate_batch(chunk)

    def translate_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        return self.translate_batch([doc], on_batch)[0]

    def plan(self, docs: Sequence[Document]) -> Plan:
        return plan(docs, self.source_lang, self.target_lang, self.glossary)

    def translate_batch(self, docs: Sequence[Document], on_batch: Callable[[int], None] | None = None,
                        alternatives: int = 0) -> list[DocumentResult]:
        """Translate several documents with their sentences batched together.

        Many short documents (a JSONL of headlines) then fill batches instead of running one
        sentence at a time. The batches are shared, so each document's ``seconds`` is the run's
        time apportioned by its share of the source tokens (exact for a single document).

        ``alternatives`` > 0: each result (and each of its sentences) also carries at most that
        many other translations, from an n-best search of ``alternatives + 1`` hypotheses run
        after the translation — which is the same as without alternatives, byte for byte."""
        if alternatives < 0:
            raise ToolkitError(f"alternatives: {alternatives} must not be negative")
        if alternatives and self.quality is not None and self.quality.on_risk != "keep":
            # A replaced sentence's alternatives would be those of the translation it replaced.
            raise ToolkitError(f"alternatives cannot be combined with on_risk={self.quality.on_risk!r}")
        start = time.perf_counter()
        planned = self.plan(docs)
        records, warnings = self.generator.translate_sentences(planned.texts, on_batch)
        hypotheses = self.generator.translate_hypotheses(planned.texts, alternatives + 1) \
            if alternatives and planned.units else None
        generated = UnitResults(records, warnings, hypotheses or [[] for _ in planned.units])
        results = restore(planned, generated, time.perf_counter() - start, alternatives)
        if self.quality is not None:
            from toolkit.quality.annotate import annotate

            terms = self.glossary.entries if self.glossary is not None else None
            annotate(results, self.source_lang, self.target_lang, self.quality, terms)
            if self.quality.on_risk != "keep":
                from toolkit.tasks.fallback import act_on_risk

                results = act_on_risk(planned, generated, results, self.quality.on_risk, self._alternative(),
                                      self.source_lang, self.target_lang, self.quality, terms,
                                      time.perf_counter() - start)
        return results

    def _alternative(self) -> SentenceTranslator | None:
        """What ``--on-risk`` translates likely-wrong sentences with (None: ``source`` needs none)."""
        assert self.quality is not None
        if self.quality.on_risk == "pivot":
            if self.fallback is None:
                raise ToolkitError(f"--on-risk pivot: no pivot route for {self.source_lang}→{self.target_lang} "
                                   "(the registry has none other than the route used)")
            return self.fallback
        if self.quality.on_risk == "retry":
            if self._retry is None:
                from toolkit.tasks.fallback import retry_translator

                self._retry = retry_translator(self.sentences)
            return self._retry
        return None

    def count_sentences(self, doc: Document) -> int:
        return len(segment(doc, self.source_lang).sentences)


def model_source_language(model: str, revision: str | None = None) -> str | None:
    """The one source language a model's own files declare (a Marian tokenizer's ``source_lang``),
    or None when they declare none or a group (``ROMANCE``). No weights are loaded."""
    import json

    from toolkit.models.hub import resolve_model
    from toolkit.text.languages import normalize_language

    folder = Path(model).expanduser()
    config = (folder if folder.is_dir() else resolve_model(model, revision).path) / "tokenizer_config.json"
    try:
        declared = json.loads(config.read_text(encoding="utf-8")).get("source_lang") if config.is_file() else None
    except (OSError, ValueError):
        return None
    return normalize_language(declared) if isinstance(declared, str) else None


def load_translator(model: str | None, src: str, tgt: str, registry: Registry | None = None, allow_pivot: bool = True,
                    pinned: dict[str, str] | None = None, engine: EngineOptions | None = None,
                    generation: GenerationOptions | None = None, glossary: Glossary | None = None,
                    quality: QualityOptions | None = None) -> Translator:
    """``--model`` if given, else the registry's route for ``src`` → ``tgt`` (one or more hops)."""
    registry = registry or load_registry()
    if quality is not None:
        engine = with_free_confidence(engine)
    if model:
        return Translator.from_pretrained(model, src, tgt, hop=hop_for_model(model, src, tgt, registry),
                                          engine=engine, generation=generation, glossary=glossary, quality=quality)
    route = resolve_route(src, tgt, registry, allow_pivot, pinned)
    engine = engine or EngineOptions()
    # Deduplication and the memory wrap the whole route once, not each hop.
    bare = build(EngineOptions, {**engine.given(), "dedupe": False, "memory": None, "memory_max_entries": None})
    hops = [Translator.from_pretrained(None, hop.src, hop.tgt, hop=hop, engine=bare, generation=generation).sentences
            for hop in route.hops]
    sentences = hops[0] if len(hops) == 1 else PivotTranslator(hops, route)
    return Translator(sentences, glossary, with_memory(sentences, engine), quality)


def pivot_fallback(src: str, tgt: str, registry: Registry, pinned: dict[str, str] | None,
                   engine: EngineOptions | None, generation: GenerationOptions | None) -> SentenceTranslator:
    """``--on-risk pivot``'s second route: through the registry's pivot language (models loaded
    now, without deduplication or memory: its outputs are a fallback's, not the route's)."""
    from toolkit.models.registry import pivot_route

    route = pivot_route(src, tgt, registry, pinned)
    if route is None:
        raise ToolkitError(f"--on-risk pivot: the registry has no route for {src}→{tgt} through {registry.pivot} "
                           "(use --on-risk retry or source)")
    bare = build(EngineOptions, {**(engine or EngineOptions()).given(), "dedupe": False, "memory": None,
                                 "memory_max_entries": None})
    hops = [Translator.from_pretrained(None, hop.src, hop.tgt, hop=hop, engine=bare, generation=generation).sentences
            for hop in route.hops]
    return PivotTranslator(hops, route)


def with_memory(sentences: SentenceTranslator, engine: EngineOptions) -> SentenceTranslator:
    """``sentences`` with the deduplication and translation memory ``engine`` asks for."""
    return compose(sentences, engine.dedupe, engine.memory, engine.memory_max_entries)


OUTPUT_CHECK_CONFIDENCE = 0.5
# Below this probability a detection is a guess: short headlines are often "identified" as a
# neighbouring language (Esperanto for French). Such documents follow the batch's majority.
LOW_CONFIDENCE = 0.5


class DocumentTranslator:
    """Routes each document to the translator of its source language — given, or detected per
    document with ``src="auto"`` — and checks that each output is in the target language.

    With ``src="auto"`` a document whose language cannot be routed (no route, a ``--model`` that
    does not translate from it, its model not to be had, or already in the target language) is
    skipped with its reason in ``skipped``; the others are translated. Engine errors (a bad option,
    no GPU) are raised as they are: they are no document's fault. ``glossary`` goes to every
    language's translator."""

    def __init__(self, src: str, tgt: str, factory: Callable[[str], Translator],
                 candidates: frozenset[str] | None = None, glossary: Glossary | None = None,
                 quality: QualityOptions | None = None) -> None:
        self.src = src
        self.target_lang = tgt
        self.factory = factory
        self.candidates = candidates | {tgt} if candidates is not None else None
        self.translators: dict[str, Translator] = {}
        self._loaded: dict[str, Translator | RouteError | ModelError] = {}  # by source language, across prepare() calls
        self.languages: dict[str, str] = {}
        self.detections: dict[str, Any] = {}
        self.fallbacks: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.glossary = glossary
        self.quality = quality  # every language's translator assesses its results with these

    def prepare(self, docs: Sequence[Document], require_any: bool = True) -> None:
        """Detect languages (if asked) and load one translator per source language, before any run.

        Called again for the next chunk of a corpus, it forgets the previous chunk's documents but
        keeps the models it loaded. ``require_any``: raise when no document can be translated."""
        from collections import Counter

        from toolkit.text.detect import detect, identify
        from toolkit.text.html import visible_text
        from toolkit.text.languages import normalize_language

        self.languages, self.detections, self.fallbacks, self.skipped = {}, {}, {}, {}
        self.translators = {}
        confident: Counter[str] = Counter()
        for doc in docs:
            declared = normalize_language(doc.lang) if doc.lang else None
            if self.src == "auto" and declared:
                lang = declared  # a JSONL record's own "lang" field beats guessing
                confident[lang] += 1
            elif self.src == "auto":
                detection = detect(visible_text(doc.text) if doc.format == "html" else doc.text)
                self.detections[doc.id] = detection
                lang = normalize_language(detection.lang) or detection.lang
                if detection.confidence >= LOW_CONFIDENCE:
                    confident[lang] += 1
            else:
                lang = self.src
            self.languages[doc.id] = lang
        majority = confident.most_common(1)[0][0] if confident else None
        texts = {doc.id: doc.text for doc in docs}
        for doc_id, detection in self.detections.items():
            if detection.confidence >= LOW_CONFIDENCE:
                continue
            guess = f"detected as {self.languages[doc_id]} with low confidence ({detection.confidence:.2f})"
            if majority and self.languages[doc_id] != majority:
                self.fallbacks[doc_id] = f"{guess}; translated as {majority}, the batch's majority language"
                self.languages[doc_id] = majority
            elif not majority and self.candidates is not None:
                # No majority to lean on: choose among the languages that can be translated at all.
                lang, confidence = identify(texts[doc_id], self.candidates)
                if lang != self.languages[doc_id]:
                    self.fallbacks[doc_id] = (f"{guess}; translated as {lang}, the likeliest language with a route "
                                              f"to {self.target_lang} (p={confidence:.2f})")
                    self.languages[doc_id] = normalize_language(lang) or lang
        reasons: dict[str, str] = {}
        unloadable: list[ModelError] = []
        for lang in dict.fromkeys(self.languages.values()):
            if lang == self.target_lang:
                reasons[lang] = f"detected as {lang}, the target language: nothing to translate"
                continue
            loaded = self._load(lang)
            if isinstance(loaded, ToolkitError) and self.src != "auto":
                raise loaded
            if isinstance(loaded, ModelError):  # this language's model cannot be had: its documents only
                unloadable.append(loaded)
                reasons[lang] = f"detected as {lang}: {loaded}"
            elif isinstance(loaded, ToolkitError):  # no route for this language
                reasons[lang] = f"detected as {lang}: {loaded}"
            else:
                self.translators[lang] = loaded
        self.skipped = {doc_id: reasons[lang] for doc_id, lang in self.languages.items() if lang in reasons}
        if require_any and reasons and len(self.skipped) == len(self.languages):
            if unloadable:  # a model that cannot be had is its own error, not a detection failure
                raise unloadable[0]
            first = next(iter(reasons.values()))
            raise ToolkitError(f"no document can be translated: {first}"
                               + (" (pass --src to override detection)" if self.src == "auto" else ""))

    def _load(self, lang: str) -> Translator | RouteError | ModelError:
        """The translator for ``lang``, or why there is none: no route (RouteError) or a model that
        cannot be had (ModelError). Any other error (a bad engine option, no GPU) is raised: it
        would fail for every language."""
        if lang not in self._loaded:
            try:
                loaded = self.factory(lang)
                self._loaded[lang] = loaded.with_quality(self.quality) if self.quality is not None else loaded
            except (RouteError, ModelError) as exc:
                self._loaded[lang] = exc
        return self._loaded[lang]

    @property
    def loaded(self) -> dict[str, Translator]:
        """Every translator loaded so far (a corpus loads them as languages appear), by source language."""
        return {lang: t for lang, t in sorted(self._loaded.items()) if isinstance(t, Translator)}

    @property
    def counts(self) -> UnitCounts:
        """Units of every loaded translator: asked for, decoded, deduplicated, from the memory."""
        total = UnitCounts()
        for translator in self.loaded.values():
            total.add(translator.counts)
        return total

    @property
    def source_lang(self) -> str:
        langs = sorted({lang for doc_id, lang in self.languages.items() if doc_id not in self.skipped})
        if len(langs) != 1:
            raise ToolkitError(f"the documents are in several languages ({', '.join(langs)}): run them separately or pass --src")
        return langs[0]

    def translator_for(self, doc: Document) -> Translator:
        return self.translators[self.languages[doc.id]]

    def count_sentences(self, doc: Document) -> int:
        return self.translator_for(doc).count_sentences(doc)

    def translate_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        return self.translate_batch([doc], on_batch)[0]

    def translate_batch(self, docs: Sequence[Document], on_batch: Callable[[int], None] | None = None,
                        alternatives: int = 0) -> list[DocumentResult]:
        """All documents of one source language are batched together; results keep input order.
        ``alternatives``: as :meth:`Translator.translate_batch`."""
        results: dict[str, DocumentResult] = {}
        for lang, translator in self.translators.items():
            group = [doc for doc in docs if self.languages[doc.id] == lang]
            if self.glossary is not None:
                translator = translator.with_glossary(self.glossary)
            if group:
                # Asked for only when wanted: a translator of one's own need not know alternatives.
                done = translator.translate_batch(group, on_batch, alternatives) if alternatives else \
                    translator.translate_batch(group, on_batch)
                for doc, result in zip(group, done):
                    results[doc.id] = self._annotate(doc, result)
        return [results[doc.id] for doc in docs]

    def _annotate(self, doc: Document, result: DocumentResult) -> DocumentResult:
        """Record the source language (and its detection), and check the output's language."""
        from toolkit.text.detect import identify
        from toolkit.text.html import visible_text

        result.extra["source_lang"] = self.languages[doc.id]
        detection = self.detections.get(doc.id)
        if detection is not None:
            result.extra["detection"] = detection.to_dict()
            if doc.id in self.fallbacks:
                result.extra["detection"]["fallback"] = self.fallbacks[doc.id]
                result.warnings.append(f"{doc.id}: {self.fallbacks[doc.id]}")
            if detection.mixed:
                result.warnings.append(f"{doc.id}: mixed-language document ({detection.languages}); translated as "
                                       f"{self.languages[doc.id]} throughout")
        checked = visible_text(result.output) if doc.format == "html" else result.output
        if checked.strip():
            lang, confidence = identify(checked)
            result.extra["output_lang"] = {"lang": lang, "confidence": round(confidence, 4)}
            if lang != self.target_lang and confidence >= OUTPUT_CHECK_CONFIDENCE:
                result.warnings.append(f"{doc.id}: the output looks like {lang} (p={confidence:.2f}), not "
                                       f"{self.target_lang}: untranslated or hallucinated output?")
        return result

    def describe(self) -> dict[str, Any]:
        """The same shape whatever the number of source languages: the top-level fields describe
        the route of the most documents (of the last ``prepare``), ``routes`` every route loaded."""
        from collections import Counter

        described = {lang: t.describe() for lang, t in self.loaded.items()}
        if not described:
            return {"source_lang_option": self.src, "target_lang": self.target_lang, "routes": {}}
        counts = Counter(lang for doc_id, lang in self.languages.items() if doc_id not in self.skipped)
        primary = next((lang for lang, _ in counts.most_common() if lang in described), next(iter(described)))
        head = dict(described[primary])
        if self.glossary is not None:
            head["glossary"] = self.glossary.describe()
        return {**head, "source_lang_option": self.src, "source_langs": sorted(described), "routes": described}


def translation_pair(src: str | None, tgt: str | None, defaults: Defaults | None = None) -> tuple[str, str]:
    """(source, target) as given or configured, checked; the source may be ``auto``."""
    from toolkit.config import load_defaults
    from toolkit.text.languages import check_language

    defaults = defaults or load_defaults()
    source = src or defaults.translation.source_lang
    source = "auto" if source == "auto" else check_language(source, "--src")
    return source, check_language(tgt or defaults.translation.target_lang, "--tgt")


def document_translator(docs: Sequence[Document], model: str | None = None, src: str | None = None,
                        tgt: str | None = None, *, allow_pivot: bool = True, registry_path: Path | None = None,
                        engine: EngineOptions | None = None, generation: GenerationOptions | None = None,
                        defaults: Defaults | None = None, glossary: Glossary | None = None,
                        quality: QualityOptions | None = None) -> DocumentTranslator:
    """The translator `toolkit translate` and `pipeline` use: languages from the arguments or the
    configured defaults (``auto``: detected per document), models from ``model`` or the registry,
    loaded (and documents routed) before any work starts.

    With ``src="auto"`` and a ``model``, a document is given to the model only in a language the
    model translates from (as its registry entry or its tokenizer's ``source_lang`` says); a
    Spanish document and a French-English model are skipped with the reason. A model that declares
    nothing takes every detected language. ``quality``: every sentence assessed (flags, risk)."""
    from toolkit.config import load_defaults
    from toolkit.models.registry import routable_sources

    defaults = defaults or load_defaults()
    source, target = translation_pair(src, tgt, defaults)
    if quality is not None:
        engine = with_free_confidence(engine)
    routes = load_registry(registry_path) if registry_path else load_registry()
    # Pairs pinned in the defaults refine the shipped registry; a registry of your own decides alone.
    pinned = {} if registry_path else defaults.translation.models

    def factory(lang: str) -> Translator:
        if model and source == "auto":
            _check_model_source(model, lang, target, routes, engine.revision if engine else None)
        translator = load_translator(model, lang, target, routes, allow_pivot, pinned, engine, generation)
        if quality is not None and quality.on_risk == "pivot":
            translator = translator.with_fallback(pivot_fallback(lang, target, routes, pinned, engine, generation))
        return translator

    candidates = routable_sources(target, routes, allow_pivot, pinned) if source == "auto" and not model else None
    translator = DocumentTranslator(source, target, factory, candidates, glossary, quality)
    translator.prepare(docs)
    return translator


def _check_model_source(model: str, lang: str, target: str, registry: Registry, revision: str | None) -> None:
    """RouteError when ``model`` is known not to translate from ``lang`` (``--src auto``)."""
    entries = [entry for entry in registry.models if entry.id == model]
    if entries and not any(entry.covers(lang, target) for entry in entries):
        raise RouteError(f"--model {model} does not translate {lang}→{target} (its registry entry says so)")
    declared = None if entries else model_source_language(model, revision)
    if declared is not None and declared != lang:
        raise RouteError(f"--model {model} translates from {declared} (its tokenizer says so), not from {lang}")
