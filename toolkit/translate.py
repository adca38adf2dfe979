"""Translator: sentence-aware, lossless document translation with one interface over backends."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from toolkit.config import default_translation_model
from toolkit.documents import Document
from toolkit.backends import LoadedEngine, load_engine
from toolkit.errors import ToolkitError
from toolkit.results import DocumentResult, SegmentRecord
from toolkit.segment import segment_document, split_to_budget


class Translator:
    """Translate documents with a seq2seq model (MarianMT by default).

    Long sentences are split to the model's input limit and their pieces translated separately;
    every split and every output that reached the length limit is reported as a warning.
    """

    def __init__(self, loaded: LoadedEngine, source_lang: str, target_lang: str) -> None:
        self.loaded = loaded
        self.engine = loaded.engine
        self.model_ref = loaded.ref
        self.source_lang = source_lang
        self.target_lang = target_lang

    @classmethod
    def from_pretrained(cls, reference: str | None = None, source_lang: str = "fr", target_lang: str = "en",
                        device: str = "auto", backend: str = "auto", quantization: str | None = None,
                        threads: int = 0, batch_size: int = 16, max_batch_tokens: int = 8192,
                        revision: str | None = None, **generation: Any) -> "Translator":
        reference = reference or default_translation_model(source_lang, target_lang)
        loaded = load_engine(reference, "translation", device, backend, quantization, threads, batch_size,
                             max_batch_tokens, revision, generation)
        return cls(loaded, source_lang, target_lang)

    def describe(self) -> dict[str, Any]:
        """The manifest's account of the model and the settings actually used."""
        return {**self.loaded.describe(), "source_lang": self.source_lang, "target_lang": self.target_lang}

    def translate_sentences(self, sentences: Sequence[str],
                            on_batch: Callable[[int], None] | None = None) -> tuple[list[SegmentRecord], list[tuple[int, str]]]:
        """Translate sentences one-to-one; returns alignment records and (sentence index, warning)."""
        budget = self.engine.input_limit
        pieces: list[str] = []
        owners: list[int] = []
        warnings: list[tuple[int, str]] = []
        for index, sentence in enumerate(sentences):
            parts = split_to_budget(sentence, self.engine.count_tokens, budget)
            if len(parts) > 1:
                warnings.append((index, f"longer than the model's {budget}-token input limit: "
                                         f"split into {len(parts)} pieces translated separately"))
            pieces.extend(parts)
            owners.extend([index] * len(parts))
        generated = self.engine.generate(pieces, on_batch)
        records = [SegmentRecord(0, i, s, "", 0) for i, s in enumerate(sentences)]
        for owner, gen in zip(owners, generated):
            record = records[owner]
            record.output = f"{record.output} {gen.text}".strip()
            record.pieces += 1
            record.source_tokens += gen.source_tokens
            record.output_tokens += gen.output_tokens
            if gen.hit_length_limit:
                limit = self.engine.output_limit(gen.source_tokens)
                warnings.append((owner, f"output reached the {limit}-token generation limit and may be cut"))
        return records, warnings

    def translate(self, texts: Sequence[str]) -> list[str]:
        """Translate plain sentences (no document structure) — a convenience for Python users."""
        records, _ = self.translate_sentences(texts)
        return [r.output for r in records]

    def translate_document(self, doc: Document, on_batch: Callable[[int], None] | None = None) -> DocumentResult:
        start = time.perf_counter()
        segmented = segment_document(doc.text, self.source_lang, markdown=doc.format == "md")
        located = segmented.sentences
        records, raw_warnings = self.translate_sentences([text for _, _, text in located], on_batch)
        outputs: list[list[str]] = [[] for _ in segmented.paragraphs]
        for (p, s, _), record in zip(located, records):
            record.paragraph, record.sentence = p, s
            outputs[p].append(record.output)
        warnings = [f"{doc.id}: paragraph {located[i][0] + 1}, sentence {located[i][1] + 1}: {message}"
                    for i, message in raw_warnings]
        return DocumentResult(
            id=doc.id,
            source=doc.source,
            output=segmented.reassemble(outputs),
            seconds=time.perf_counter() - start,
            source_tokens=sum(r.source_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
            segments=records,
            warnings=warnings,
            newline=doc.newline,
        )

    def count_sentences(self, doc: Document) -> int:
        return len(segment_document(doc.text, self.source_lang, markdown=doc.format == "md").sentences)


def check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ToolkitError(f"{name} must be a positive integer, got {value}")
