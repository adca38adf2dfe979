"""What a run produces per document, and how it is written: output files plus the manifest entry."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.io.runs import RunFolder


@dataclass
class SegmentRecord:
    """One source sentence and what the model made of it (the manifest's alignment)."""

    paragraph: int
    sentence: int
    source: str
    output: str
    pieces: int = 1
    source_tokens: int = 0
    output_tokens: int = 0
    via: list[str] = field(default_factory=list)  # pivot translations, hop by hop
    protected: int = 0  # protected spans (URLs, code, …) kept from the model and restored verbatim
    glossary: int = 0  # glossary and --keep terms put in the output in place of a translation
    # Quality signals (toolkit/quality/), written only when set, so that runs without them are
    # byte-identical to earlier ones: mean log-probability per token, the checks' flags
    # ({"name", "reason"}), and the risk (ok | review | likely-wrong).
    confidence: float | None = None
    flags: list[dict[str, str]] | None = None
    risk: str | None = None
    # Other translations of the sentence from an n-best search, when asked for (``alternatives``).
    alternatives: list[str] | None = None
    # True when the engine stopped at its generation limit (a piece of the sentence, or a hop of
    # a pivot): the ``truncated`` check's evidence. Unset (omitted) otherwise.
    truncated: bool | None = None
    # What ``--on-risk`` did with this likely-wrong sentence (toolkit/tasks/fallback.py): the action,
    # whether its output was replaced, the first output's risk, flags and (when replaced) text.
    on_risk: dict[str, Any] | None = None
    # What the plan put back verbatim, for the ``terms`` check (toolkit.quality.annotate); never
    # written: the protected spans of the source, and the glossary terms (source → target) applied.
    spans: list[str] | None = field(default=None, compare=False, repr=False)
    terms: dict[str, str] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        for key in NOT_WRITTEN:
            del record[key]
        for key in OPTIONAL_SEGMENT_FIELDS:
            if record[key] is None:
                del record[key]
        return record


OPTIONAL_SEGMENT_FIELDS = ("confidence", "flags", "risk", "truncated", "on_risk", "alternatives")
NOT_WRITTEN = ("spans", "terms")


def weighted_confidence(parts: Sequence[tuple[float | None, int]]) -> float | None:
    """The confidence of a sentence made of several decoded parts, given as (confidence, output
    tokens): their mean log-probabilities weighted by their tokens, i.e. the mean over all the
    sentence's tokens. Unknown (None) when any part's is unknown: a partial mean would hide it."""
    if not parts or any(confidence is None for confidence, _ in parts):
        return None
    total = sum(max(tokens, 0) for _, tokens in parts)
    if total == 0:
        return sum(c for c, _ in parts if c is not None) / len(parts)
    return sum(c * max(tokens, 0) for c, tokens in parts if c is not None) / total


@dataclass
class DocumentResult:
    id: str
    source: str
    output: str
    seconds: float
    source_tokens: int
    output_tokens: int
    segments: list[SegmentRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    newline: str = "\n"
    extra: dict[str, Any] = field(default_factory=dict)
    # A structured file's translation (docx, srt, po, …): written as these bytes with this suffix.
    file: bytes | None = None
    file_suffix: str = ""
    # Other translations of the whole text (toolkit.tasks.translate.restore), when asked for.
    alternatives: list[str] | None = None

    def to_manifest(self, output_file: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "output_file": output_file,
            "seconds": round(self.seconds, 4),
            "source_tokens": self.source_tokens,
            "output_tokens": self.output_tokens,
            "segments": [s.to_dict() for s in self.segments],
            "warnings": self.warnings,
            **({"alternatives": self.alternatives} if self.alternatives is not None else {}),
            **self.extra,
        }


def document_format(result: DocumentResult, fmt: str) -> str:
    """``auto``: Markdown and HTML inputs give Markdown and HTML outputs, everything else plain text
    (a summary of an HTML page, a document-level output without segments, is plain text)."""
    source = result.source.lower()
    if fmt == "html" and not result.segments:
        return "txt"
    if fmt != "auto":
        return fmt
    if source.endswith((".html", ".htm")) and result.segments:
        return "html"
    return "md" if source.endswith((".md", ".markdown")) else "txt"


def render(result: DocumentResult, fmt: str, output_key: str = "output") -> str:
    """The text of one document's output file in format ``fmt``."""
    fmt = document_format(result, fmt)
    if fmt == "jsonl" and not result.segments:  # document-level output (a summary)
        return json.dumps({"doc_id": result.id, output_key: result.output}, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        lines = []
        for seg in result.segments:
            lines.append(json.dumps({"doc_id": result.id, "paragraph": seg.paragraph, "sentence": seg.sentence,
                                     "source": seg.source, output_key: seg.output}, ensure_ascii=False))
        return "\n".join(lines) + "\n"
    return result.output


def output_stem(result: DocumentResult, suffix: str) -> str:
    """The output name of a document without extension: its id, except that an id which ends in
    its file's whole name (``x.txt`` and ``x.md`` in one folder, told apart by read_inputs) loses
    the extension its output gets anyway, so that outputs mirror the inputs (``x.txt``, ``x.md``)."""
    from pathlib import PurePath

    name = PurePath(result.source).name
    if name and (result.id == name or result.id.endswith(f"/{name}")) and name.lower().endswith(suffix.lower()):
        return result.id[: -len(suffix)]
    return result.id


def write_results(run: RunFolder, results: Sequence[DocumentResult], fmt: str, subdir: str = "",
                  output_key: str = "output") -> list[dict[str, Any]]:
    """Write each document's output file; return their manifest entries."""
    entries = []
    for result in results:
        if result.file is not None:
            relative = run.path_for(output_stem(result, result.file_suffix), result.file_suffix, subdir)
            run.write_bytes(relative, result.file)
            entries.append(result.to_manifest(relative))
            continue
        doc_fmt = document_format(result, fmt)
        relative = run.path_for(output_stem(result, f".{doc_fmt}"), f".{doc_fmt}", subdir)
        run.write_text(relative, render(result, doc_fmt, output_key), result.newline if doc_fmt != "jsonl" else "\n")
        entries.append(result.to_manifest(relative))
    return entries


def stream_results(results: Sequence[DocumentResult], fmt: str, output_key: str = "output") -> None:
    """``--out -``: outputs to stdout, documents in input order."""
    for result in results:
        if result.file is not None:
            from toolkit.errors import ToolkitError

            raise ToolkitError(f"{result.source}: a {result.file_suffix} file cannot be written to stdout: "
                               "give --out DIR")
        text = render(result, fmt, output_key)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
