"""Record corpora (JSONL) cut into shards.

A shard is the records ``[k·size, (k+1)·size)`` of the inputs taken in order (blank lines are not
records). Its contents depend only on the inputs and the shard size, never on timing, which is
what makes ``--resume`` and the Ray engine give the same bytes as an uninterrupted local run.
Planning reads the inputs once as bytes (no JSON parsing) and records byte ranges, so a worker
anywhere reads just its own shard.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import InputError
from toolkit.io.documents import Document

_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
TEXT_FIELD = "text"


@dataclass(frozen=True)
class Span:
    """Lines ``first_line``… of ``path``, bytes ``start``–``end``."""

    path: str
    start: int
    end: int
    first_line: int


@dataclass(frozen=True)
class ShardSpec:
    index: int
    spans: tuple[Span, ...]
    records: int

    @property
    def name(self) -> str:
        return shard_name(self.index)


def shard_name(index: int) -> str:
    return f"part-{index:05d}.jsonl"


def details_name(index: int) -> str:
    return f"details/{shard_name(index)}"


def check_corpus_file(path: Path) -> None:
    """JSONL is UTF-8 (RFC 8259): a UTF-16/32 file is refused up front, with the fix."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if head.startswith(_OTHER_BOMS):
        raise InputError(f"{path}: JSONL inputs are read as UTF-8 and this file is UTF-16/32; convert it "
                         "(iconv -f UTF-16 -t UTF-8)")


def plan_shards(paths: Sequence[Path], size: int) -> Iterator[ShardSpec]:
    """The shards of ``paths`` (in order) at ``size`` records each, lazily."""
    index = 0
    spans: list[Span] = []
    count = 0
    for path in paths:
        check_corpus_file(path)
        with path.open("rb") as handle:
            offset = 0
            span_start: int | None = None
            span_line = 0
            for lineno, line in enumerate(handle, start=1):
                if lineno == 1 and line.startswith(_UTF8_BOM):
                    offset = len(_UTF8_BOM)
                    line = line[len(_UTF8_BOM):]
                if line.strip():
                    if span_start is None:
                        span_start, span_line = offset, lineno
                    count += 1
                offset += len(line)
                if count == size:
                    if span_start is not None:
                        spans.append(Span(str(path), span_start, offset, span_line))
                    yield ShardSpec(index, tuple(spans), count)
                    index, spans, count, span_start = index + 1, [], 0, None
            if span_start is not None:
                spans.append(Span(str(path), span_start, offset, span_line))
    if count:
        yield ShardSpec(index, tuple(spans), count)


@dataclass
class CorpusRecord:
    """One input record: its parsed object and document, or why it cannot be used."""

    origin: str  # path:line
    line: int
    record: dict[str, Any] | None = None
    document: Document | None = None
    error: str | None = None

    @property
    def id(self) -> Any:
        return self.record.get("id") if isinstance(self.record, dict) else None


def read_shard(spec: ShardSpec) -> list[CorpusRecord]:
    """The records of one shard, each parsed and checked on its own: a bad line is a failed
    record, never a failed shard."""
    records: list[CorpusRecord] = []
    for span in spec.spans:
        try:
            with open(span.path, "rb") as handle:
                handle.seek(span.start)
                data = handle.read(span.end - span.start)
        except OSError as exc:
            raise InputError(f"{span.path}: cannot read ({exc.strerror})") from None
        for lineno, line in enumerate(data.split(b"\n"), start=span.first_line):
            if line.strip():
                records.append(parse_record(line, span.path, lineno))
    if len(records) != spec.records:
        raise InputError(f"{spec.spans[0].path}: changed while the run was reading it (shard {spec.index} holds "
                         f"{len(records)} records, {spec.records} were planned)")
    return records


def parse_record(line: bytes, path: str, lineno: int) -> CorpusRecord:
    origin = f"{path}:{lineno}"
    result = CorpusRecord(origin, lineno)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        result.error = f"not valid UTF-8 at byte {exc.start} of the line"
        return result
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        result.error = f"invalid JSON ({exc.msg} at column {exc.colno})"
        return result
    if not isinstance(record, dict):
        result.error = "expected a JSON object"
        return result
    result.record = record
    doc_id, body = record.get("id"), record.get(TEXT_FIELD)
    if doc_id is None or isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        result.error = "'id' must be a string or an integer" if "id" in record else "record lacks 'id'"
    elif body is None:
        result.error = f"record lacks '{TEXT_FIELD}'"
    elif not isinstance(body, str):
        result.error = f"'{TEXT_FIELD}' must be a string"
    elif not _encodable(text_of(record)):
        result.error = "holds a lone surrogate (\\ud800-\\udfff escape), which is not text"
    else:
        lang = record.get("lang")
        result.document = Document(id=str(doc_id), text=body.replace("\r\n", "\n"), source=f"{path}#{doc_id}",
                                   format="jsonl", lang=lang if isinstance(lang, str) else None,
                                   meta={k: v for k, v in record.items() if k not in ("id", TEXT_FIELD, "lang")})
    return result


def text_of(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def input_fingerprint(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """What identifies the inputs for ``--resume``: each file's resolved path, size and the
    sha256 of its whole content, streamed: any edit is caught, whatever its size or the file's
    modification time, for about 5 s a GB (a busy 2-core machine), next to hours of translation."""
    found = []
    for path in paths:
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    size += len(block)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
        found.append({"path": str(path.resolve()), "bytes": size, "sha256": digest.hexdigest()})
    return found
