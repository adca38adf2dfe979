"""Summarizers: seq2seq models with map-reduce over long documents, and extractive baselines
(lead-N, TextRank) that need no weights."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.config import default_summarization_model
from toolkit.engines.base import Engine
from toolkit.engines.loader import load_engine, with_free_confidence
from toolkit.errors import ToolkitError
from toolkit.io.documents import Document, as_documents
from toolkit.io.results import DocumentResult
from toolkit.options import EngineOptions, GenerationOptions, split_options
from toolkit.text.segment import (
    PYSBD_WINDOW,
    leading_sentences,
    pack_sentences,
    segment_document,
    segment_html,
    split_to_budget,
)

EXTRACTIVE = re.compile(r"^(lead|textrank)(?:-(\d+))?$")
MAX_REDUCE_LEVELS = 8


class Summarizer:
    """What every summariser offers; ``Summarizer.from_pretrained`` picks the right one.

        >>> Summarizer.from_pretrained("sshleifer/distilbart-cnn-12-6").summarize(["long text ..."])
        >>> Summarizer.from_pretrained("textrank-3", lang="fr").summarize(["Un long article ..."])
    """

    lang: str
    method = "none"

    @classmethod
    def from_pretrained(cls, reference: str | None = None, lang: str = "en", *, engine: EngineOptions | None = None,
                        generation: GenerationOptions | None = None, **options: Any) -> Summarizer:
        """A hub id or local folder (seq2seq), ``lead-N`` or ``textrank[-N]``; default: the
        configured summariser for ``lang``. Options as objects or by field name, as for Translator."""
        engine_options, generation_options = split_options(options, engine, generation)
        return load_summarizer(reference, lang, engine_options, generation_options)

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def summarize(self, texts: Sequence[str]) -> list[str]:
        """One summary per text, as `toolkit summarize` writes it for a file with that text."""
        return [result.output for result in self.summarize_documents(list(as_documents(texts)))]

    def summarize_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        return self.summarize_documents([doc], on_batch)[0]

    def summarize_documents(self, docs: Sequence[Document],
                            on_batch: Callable[[int], None] | None = None) -> list[DocumentResult]:
        raise NotImplementedError

    def count_units(self, doc: Document) -> int:
        return 1


def document_sentences(doc: Document, lang: str) -> list[str]:
    if doc.format == "html":  # the page's text, without its inline tags and entities
        return [text for text in (html.unescape(re.sub(r"<[^>]*>", "", s)).strip()
                                  for _, _, s in segment_html(doc.text, lang).sentences) if text]
    return [text for _, _, text in segment_document(doc.text, lang, markdown=doc.format == "md").sentences]


# Longer "sentences" (a paragraph without punctuation, a scraped page on one line) are cut at
# clause breaks, then between words, before extractive ranking: else one unit is the whole text.
MAX_EXTRACTIVE_WORDS = 80


def extractive_units(doc: Document, lang: str) -> list[str]:
    units = []
    for sentence in document_sentences(doc, lang):
        units.extend(split_to_budget(sentence, lambda text: len(text.split()), MAX_EXTRACTIVE_WORDS))
    return units


def summary_warnings(doc_id: str, source: str, summary: str) -> list[str]:
    """An empty summary, or one no shorter than its source, is reported rather than passed off."""
    if not summary.strip():
        return [f"{doc_id}: the summary is empty"]
    if len(summary.strip()) >= len(source.strip()):
        return [f"{doc_id}: the summary ({len(summary.strip())} characters) is not shorter than its source "
                f"({len(source.strip())} characters)"]
    return []


def _words(text: str, lang: str) -> int:
    from toolkit.text.tokenize import UnicodeTokenizer

    return len(UnicodeTokenizer(lang).tokenize(text))


class _Extractive(Summarizer):
    """Shared by the extractive baselines: pick sentence indices, keep document order."""

    method = "extractive"

    def __init__(self, n: int, lang: str) -> None:
        if n < 1:
            raise ValueError("an extractive summary needs at least one sentence")
        self.n = n
        self.lang = lang

    def select(self, sentences: Sequence[str]) -> list[int]:
        raise NotImplementedError

    def summarize_documents(self, docs: Sequence[Document],
                            on_batch: Callable[[int], None] | None = None) -> list[DocumentResult]:
        return [self.summarize_document(doc, on_batch) for doc in docs]

    def summarize_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        start = time.perf_counter()
        sentences = extractive_units(doc, self.lang)
        chosen = sorted(self.select(sentences))
        summary = " ".join(sentences[i] for i in chosen)
        if on_batch:
            on_batch(1)
        return DocumentResult(
            id=doc.id, source=doc.source, output=summary, seconds=time.perf_counter() - start,
            source_tokens=sum(_words(s, self.lang) for s in sentences), output_tokens=_words(summary, self.lang),
            warnings=summary_warnings(doc.id, doc.text, summary),
            extra={"method": self.method, "token_unit": "words", "selected_sentences": chosen,
                   "source_sentences": len(sentences)},
        )


# Texts longer than this (16 pySBD windows) are read by lead-N only as far as their first N sentences.
LEAD_READ_AHEAD = 16 * PYSBD_WINDOW


class LeadSummarizer(_Extractive):
    """The first N sentences: the classic news baseline (lead-3 is hard to beat on news)."""

    method = "lead"

    def select(self, sentences: Sequence[str]) -> list[int]:
        return list(range(min(self.n, len(sentences))))

    def summarize_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        """As every extractive summary, but a long plain text is segmented only as far as its first
        N sentences (a 6 MB record would take minutes whole): the same summary, and details that
        say how much was read (``read_characters``; ``source_sentences`` counts the sentences read,
        ``source_tokens`` the words of the whole text)."""
        if doc.format not in ("txt", "jsonl") or len(doc.text) <= LEAD_READ_AHEAD:
            return super().summarize_document(doc, on_batch)
        start = time.perf_counter()
        sentences, read = leading_sentences(doc.text, self.lang, self.n, LEAD_READ_AHEAD)
        if read >= len(doc.text):
            return super().summarize_document(doc, on_batch)
        units = [unit for sentence in sentences
                 for unit in split_to_budget(sentence, lambda text: len(text.split()), MAX_EXTRACTIVE_WORDS)]
        chosen = self.select(units)
        summary = " ".join(units[i] for i in chosen)
        if on_batch:
            on_batch(1)
        return DocumentResult(
            id=doc.id, source=doc.source, output=summary, seconds=time.perf_counter() - start,
            source_tokens=_words(doc.text, self.lang), output_tokens=_words(summary, self.lang),
            warnings=summary_warnings(doc.id, doc.text, summary),
            extra={"method": self.method, "token_unit": "words", "selected_sentences": chosen,
                   "source_sentences": len(units), "read_characters": read},
        )

    def describe(self) -> dict[str, Any]:
        return {"model": {"reference": f"lead-{self.n}", "source": "builtin"}, "method": "lead", "sentences": self.n,
                "lang": self.lang}


def textrank_scores(sentences: Sequence[str], lang: str, damping: float = 0.85, tolerance: float = 1e-8,
                    max_iterations: int = 500) -> np.ndarray:
    """PageRank over the graph of sentences weighted by TF-IDF cosine similarity."""
    from toolkit.text.tokenize import UnicodeTokenizer

    n = len(sentences)
    if n == 0:
        return np.zeros(0)
    tokenizer = UnicodeTokenizer(lang)
    bags = [tokenizer.tokenize(s) for s in sentences]
    vocab = {w: i for i, w in enumerate(sorted({w for bag in bags for w in bag}))}
    counts = np.zeros((n, max(len(vocab), 1)))
    for row, bag in enumerate(bags):
        for word in bag:
            counts[row, vocab[word]] += 1
    df = (counts > 0).sum(axis=0)
    idf = np.log((1 + n) / (1 + df)) + 1
    vectors = counts * idf
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    totals = similarity.sum(axis=1, keepdims=True)
    # A sentence sharing no word with any other links to all alike (the usual dangling-node rule).
    transition = np.where(totals > 0, similarity / np.where(totals > 0, totals, 1), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iterations):
        updated = (1 - damping) / n + damping * transition.T @ rank
        if np.abs(updated - rank).sum() < tolerance:
            rank = updated
            break
        rank = updated
    return rank


class TextRankSummarizer(_Extractive):
    """TextRank (Mihalcea & Tarau 2004): the N most central sentences, in document order."""

    method = "textrank"

    def select(self, sentences: Sequence[str]) -> list[int]:
        scores = textrank_scores(sentences, self.lang)
        order = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))
        return order[: self.n]

    def describe(self) -> dict[str, Any]:
        return {"model": {"reference": f"textrank-{self.n}", "source": "builtin"}, "method": "textrank",
                "sentences": self.n, "similarity": "tf-idf cosine", "damping": 0.85, "lang": self.lang}


@dataclass
class _MapReduce:
    """One document's way through the map-reduce levels."""

    doc: Document
    units: list[str]
    source_tokens: int
    total: int
    levels: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    active: bool = False


class Seq2SeqSummarizer(Summarizer):
    """Abstractive summaries with any seq2seq checkpoint (BART, PEGASUS, T5, mT5, mBART …).

    A document longer than the model's input window is cut on sentence boundaries into chunks
    that fit, each chunk is summarised, and the joined chunk summaries are summarised again
    (map-reduce), as many levels as needed. The manifest records every level.
    """

    method = "seq2seq"

    def __init__(self, engine: Engine, lang: str) -> None:
        self.engine = engine
        self.model_ref = engine.ref
        self.lang = lang

    def describe(self) -> dict[str, Any]:
        return {**self.engine.manifest(), "method": "seq2seq", "lang": self.lang}

    def count_units(self, doc: Document) -> int:
        """Progress units: the chunks of the first map-reduce level (if any), then the final summary."""
        count, budget = self.engine.count_tokens, self.engine.input_limit
        units = document_sentences(doc, self.lang)
        if count(" ".join(units)) <= budget:
            return 1
        return len(pack_sentences(units, count, budget)) + 1

    def summarize_documents(self, docs: Sequence[Document],
                            on_batch: Callable[[int], None] | None = None) -> list[DocumentResult]:
        """Map-reduce level by level, with the chunks of all documents at a level, and then all the
        final summaries, generated in shared batches. Each document's ``seconds`` is the run's time
        apportioned by its share of the source tokens (exact for a single document)."""
        start = time.perf_counter()
        count = self.engine.count_tokens
        budget = self.engine.input_limit
        states = []
        for doc in docs:
            units = document_sentences(doc, self.lang)
            tokens = count(" ".join(units))
            states.append(_MapReduce(doc, units, tokens, tokens, active=tokens > budget))
        while any(state.active for state in states):
            active = [state for state in states if state.active]
            chunk_lists = [pack_sentences(state.units, count, budget) for state in active]
            first_level = all(not state.levels for state in active)
            generated = self.engine.generate([" ".join(c) for chunks in chunk_lists for c in chunks],
                                             on_batch if first_level else None)
            offset = 0
            for state, chunks in zip(active, chunk_lists):
                outputs = generated[offset: offset + len(chunks)]
                offset += len(chunks)
                state.levels.append({"level": len(state.levels), "chunks": len(chunks),
                                     "chunk_tokens": [count(" ".join(c)) for c in chunks],
                                     "summaries": [g.text for g in outputs]})
                state.units = [g.text for g in outputs if g.text]
                shrunk = count(" ".join(state.units))
                # Summaries no shorter than their inputs: no further level would help.
                progress = shrunk < state.total
                state.total = min(shrunk, state.total)
                state.active = progress and shrunk > budget and len(state.levels) < MAX_REDUCE_LEVELS
        texts = []
        for state in states:
            text = " ".join(state.units)
            if count(text) > budget:
                kept = split_to_budget(text, count, budget)[0]
                state.warnings.append(
                    f"{state.doc.id}: after {len(state.levels)} map-reduce level(s) the text still had "
                    f"{count(text)} tokens; only its first {count(kept)} tokens (of the model's {budget}) were summarised")
                text = kept
            texts.append(text)
        finals = self.engine.generate(texts, on_batch)
        elapsed = time.perf_counter() - start
        total_tokens = sum(state.source_tokens for state in states) or 1
        results = []
        for state, final in zip(states, finals):
            doc = state.doc
            if final.hit_length_limit:
                state.warnings.append(f"{doc.id}: summary reached the {self.engine.output_limit(final.source_tokens)}"
                                      "-token generation limit and may be cut")
            state.warnings += summary_warnings(doc.id, doc.text, final.text)
            results.append(DocumentResult(
                id=doc.id, source=doc.source, output=final.text,
                seconds=elapsed * state.source_tokens / total_tokens, source_tokens=state.source_tokens,
                output_tokens=final.output_tokens, warnings=state.warnings,
                extra={"method": "seq2seq", "token_unit": "model", "map_reduce_levels": state.levels,
                       "chunked": bool(state.levels)},
            ))
            # The final generation's (a map-reduce summary's earlier levels are not in it); written
            # only when the engine scored it (EngineOptions.confidence), as translation records do.
            if final.confidence is not None:
                results[-1].extra["confidence"] = final.confidence
            if final.hit_length_limit:
                results[-1].extra["truncated"] = True
        return results


def load_summarizer(reference: str | None, lang: str = "en", engine: EngineOptions | None = None,
                    generation: GenerationOptions | None = None) -> Summarizer:
    """``lead-N`` / ``textrank[-N]`` (N defaults to 3), a Hugging Face id, or a local folder."""
    reference = reference or default_summarization_model(lang)
    match = EXTRACTIVE.match(reference.lower())
    if match and not Path(reference).exists():  # a local folder may be called "lead-3" too
        n = int(match.group(2) or 3)
        if n < 1:
            raise ToolkitError(f"--model {reference}: the number of sentences must be at least 1")
        return LeadSummarizer(n, lang) if match.group(1) == "lead" else TextRankSummarizer(n, lang)
    # Its confidence is recorded where it is free (ct2); torch only with ``confidence=True``.
    return Seq2SeqSummarizer(load_engine(reference, "summarization", with_free_confidence(engine), generation), lang)
