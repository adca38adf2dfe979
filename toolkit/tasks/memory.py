"""Work never done twice: sentence translators that wrap another (composition, as pivoting does).

- :class:`Deduplicator`: identical units of a run are decoded once and fanned out. It remembers the
  last ``DEDUPE_CACHE`` units it saw, so a repetition in a later chunk (a corpus, a stream of
  requests) is not decoded again either.
- :class:`TranslationMemory`: a persistent memory (an SQLite file, toolkit.io.memory) in front of
  the wrapped translator: hits skip the model, misses are decoded and stored.

Both key a unit by its exact text (what the model reads, after protection and glossary terms
were cut out) and by what else decides the output: the wrapped translator's description (model
identity — hub revision or content hash —, backend, device, dtype/quantisation, generation
settings, prefix, input limit, route and hops), minus what changes speed only (threads, where
the files lie, these options themselves). An output served either way is the record the model gave
for that text: the same bytes, the same token counts and the same warnings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.io.memory import Entry, MemoryFile, context_digest
from toolkit.io.results import SegmentRecord

if TYPE_CHECKING:
    from toolkit.tasks.translate import SentenceTranslator

DEDUPE_CACHE = 100_000  # units remembered by a Deduplicator (a few tens of MB at most)
# Keys of a description that do not change an output byte.
SPEED_ONLY = frozenset({"threads", "path", "backend_note", "dedupe", "memory", "memory_max_entries",
                        "units", "translation_memory", "converted_model", "converted_this_run", "inter_threads",
                        "intra_threads", "malloc_arenas_limited"})


@dataclass
class UnitCounts:
    """How the units of a translator's runs were served (the manifest's ``units``)."""

    units: int = 0  # asked for
    deduplicated: int = 0  # served from an identical unit of the same run
    memory: int = 0  # served from the translation memory

    @property
    def decoded(self) -> int:
        """Given to the model."""
        return self.units - self.deduplicated - self.memory

    def to_dict(self) -> dict[str, int]:
        return {"units": self.units, "decoded": self.decoded, "deduplicated": self.deduplicated,
                "from_memory": self.memory}

    def add(self, other: UnitCounts) -> None:
        self.units += other.units
        self.deduplicated += other.deduplicated
        self.memory += other.memory

    def minus(self, other: UnitCounts) -> UnitCounts:
        return UnitCounts(self.units - other.units, self.deduplicated - other.deduplicated, self.memory - other.memory)


def identity(description: Any) -> Any:
    """``description`` without the keys that change speed only (recursively)."""
    if isinstance(description, dict):
        return {k: identity(v) for k, v in description.items() if k not in SPEED_ONLY}
    if isinstance(description, list):
        return [identity(v) for v in description]
    return description


def _copy(record: SegmentRecord, index: int) -> SegmentRecord:
    return replace(record, sentence=index, via=list(record.via))


Generated = tuple[list[SegmentRecord], list[tuple[int, str]]]


class Deduplicator:
    """Decodes each distinct text once; copies get the same record and warnings. Not ``enabled``
    (``--no-dedupe``), it only counts the units and passes them on."""

    def __init__(self, inner: SentenceTranslator, counts: UnitCounts | None = None,
                 cache_size: int = DEDUPE_CACHE, enabled: bool = True) -> None:
        self.inner = inner
        self.enabled = enabled
        self.source_lang, self.target_lang = inner.source_lang, inner.target_lang
        self.counts = counts if counts is not None else UnitCounts()
        self.cache_size = cache_size
        self.outermost = True  # counts the units asked for
        self._seen: OrderedDict[str, tuple[SegmentRecord, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def translate_sentences(self, sentences: Sequence[str],
                            on_batch: Callable[[int], None] | None = None) -> Generated:
        if not self.enabled:
            self.counts.units += len(sentences)
            return self.inner.translate_sentences(sentences, on_batch)
        with self._lock:
            self.counts.units += len(sentences)
            known = {s: self._seen[s] for s in dict.fromkeys(sentences) if s in self._seen}
            for text in known:
                self._seen.move_to_end(text)
        unique = [s for s in dict.fromkeys(sentences) if s not in known]
        records, warnings = self.inner.translate_sentences(unique, on_batch) if unique else ([], [])
        per_unit: list[list[str]] = [[] for _ in unique]
        for index, message in warnings:
            per_unit[index].append(message)
        fresh = {text: (record, messages) for text, record, messages in zip(unique, records, per_unit)}
        with self._lock:
            self._seen.update(fresh)
            while len(self._seen) > self.cache_size:
                self._seen.popitem(last=False)
            self.counts.deduplicated += len(sentences) - len(unique)
        served = {**known, **fresh}
        out: list[SegmentRecord] = []
        out_warnings: list[tuple[int, str]] = []
        for index, text in enumerate(sentences):
            record, messages = served[text]
            out.append(_copy(record, index))
            out_warnings += [(index, message) for message in messages]
        if on_batch is not None and len(sentences) > len(unique):
            on_batch(len(sentences) - len(unique))  # the progress bar counts every unit
        return out, out_warnings

    def translate_hypotheses(self, sentences: Sequence[str], count: int) -> list[list[str]]:
        """Hypotheses are never remembered (they would be served to requests for other counts);
        within one call each distinct text is searched once."""
        unique = list(dict.fromkeys(sentences)) if self.enabled else list(sentences)
        found = dict(zip(unique, self.inner.translate_hypotheses(unique, count)))
        return [list(found[text]) for text in sentences]


class TranslationMemory:
    """A persistent translation memory in front of a sentence translator.

        >>> tm = TranslationMemory(translator.sentences, "news.tm")
        >>> records, warnings = tm.translate_sentences(["Bonjour."])  # decoded, stored
        >>> records, warnings = tm.translate_sentences(["Bonjour."])  # from the file

    ``memory`` is a path (opened, created if absent, checked) or an open :class:`MemoryFile`."""

    def __init__(self, inner: SentenceTranslator, memory: str | Path | MemoryFile,
                 counts: UnitCounts | None = None, max_entries: int | None = None) -> None:
        self.inner = inner
        self.source_lang, self.target_lang = inner.source_lang, inner.target_lang
        self.file = memory if isinstance(memory, MemoryFile) else MemoryFile(memory, max_entries)
        self.counts = counts if counts is not None else UnitCounts()
        self.context = identity(inner.describe())
        self.digest = context_digest(self.context)
        self._lock = threading.Lock()  # one connection, used by the server's batcher threads too
        self.outermost = True  # counts the units asked for (False behind a Deduplicator)
        with self._lock:
            self.file.register(self.digest, self.source_lang, self.target_lang, self.context)

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "translation_memory": {"path": str(self.file.path),
                                                                "context": self.digest[:16]}}

    def translate_sentences(self, sentences: Sequence[str],
                            on_batch: Callable[[int], None] | None = None) -> Generated:
        with self._lock:
            if self.outermost:
                self.counts.units += len(sentences)
            found = self.file.lookup(self.digest, sentences)
        missing = [s for s in dict.fromkeys(sentences) if s not in found]
        records, warnings = self.inner.translate_sentences(missing, on_batch) if missing else ([], [])
        per_unit: list[list[str]] = [[] for _ in missing]
        for index, message in warnings:
            per_unit[index].append(message)
        fresh = {text: Entry(record.output, {"pieces": record.pieces, "source_tokens": record.source_tokens,
                                             "output_tokens": record.output_tokens, "via": record.via,
                                             "confidence": record.confidence, "truncated": record.truncated},
                           messages)
                 for text, record, messages in zip(missing, records, per_unit)}
        with self._lock:
            self.file.store(self.digest, fresh)
        self.counts.memory += sum(s in found for s in sentences)
        self.counts.deduplicated += sum(s not in found for s in sentences) - len(missing)  # copies in one call
        served = {**found, **fresh}
        out: list[SegmentRecord] = []
        out_warnings: list[tuple[int, str]] = []
        for index, text in enumerate(sentences):
            entry = served[text]
            out.append(SegmentRecord(0, index, text, entry.output, int(entry.record["pieces"]),
                                     source_tokens=int(entry.record["source_tokens"]),
                                     output_tokens=int(entry.record["output_tokens"]),
                                     via=list(entry.record["via"]), confidence=entry.record.get("confidence"),
                                     truncated=entry.record.get("truncated")))
            out_warnings += [(index, message) for message in entry.warnings]
        hits = len(sentences) - len(missing)
        if on_batch is not None and hits:
            on_batch(hits)
        return out, out_warnings

    def translate_hypotheses(self, sentences: Sequence[str], count: int) -> list[list[str]]:
        """Not from the memory, not into it: the memory holds translations only."""
        return self.inner.translate_hypotheses(sentences, count)


def compose(inner: SentenceTranslator, dedupe: bool = True, memory: str | Path | MemoryFile | None = None,
            max_entries: int | None = None, counts: UnitCounts | None = None) -> SentenceTranslator:
    """``inner`` behind a translation memory (if given), behind deduplication (on or off: it
    counts the units either way)."""
    counts = counts if counts is not None else UnitCounts()
    wrapped: SentenceTranslator = inner
    if memory is not None:
        wrapped = TranslationMemory(wrapped, memory, counts, max_entries)
    if isinstance(wrapped, TranslationMemory):
        wrapped.outermost = False
    return Deduplicator(wrapped, counts, enabled=dedupe)


def unwrap(sentences: Any) -> Any:
    """The translator under any deduplication or memory."""
    while isinstance(sentences, (Deduplicator, TranslationMemory)):
        sentences = sentences.inner
    return sentences


def counts_of(sentences: Any) -> UnitCounts | None:
    return sentences.counts if isinstance(sentences, (Deduplicator, TranslationMemory)) else None
