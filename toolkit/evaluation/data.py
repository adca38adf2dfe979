"""Reading hypotheses and references — run folders, JSONL, plain text — and aligning them by id."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import InputError
from toolkit.io.documents import BINARY_HINT, ENCODING_HINT, jsonl_records, read_text_file

HYPOTHESIS_FIELDS = ("hypothesis", "translation", "summary", "output", "text", "reference")
Key = tuple[str, int]


@dataclass
class Segments:
    """Texts from one file or run folder. ``keys`` is None for plain text (aligned by position)."""

    origin: str
    keys: list[Key] | None
    texts: list[list[str]]  # one list per segment: one hypothesis, or one or more references
    task: str | None = None  # translation | summarization, when the source says
    lang: str | None = None
    sources: list[str] | None = None  # each segment's source text, when the input holds them all
    # A translate run's recorded quality signals per segment (confidence, truncated, flags), when
    # it recorded any (toolkit review uses them; evaluate ignores them).
    signals: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def _from_run(folder: Path, task: str | None) -> Segments:
    try:
        manifest = json.loads(read_text_file(folder / "manifest.json"))
    except json.JSONDecodeError:
        raise InputError(f"{folder}/manifest.json: not valid JSON") from None
    try:
        return _run_segments(folder, manifest, task)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InputError(f"{folder}/manifest.json: not the manifest of a translate, summarize or pipeline run "
                         f"(missing or malformed {exc})") from None


def _run_segments(folder: Path, manifest: Any, task: str | None) -> Segments:
    from toolkit.io.safe_paths import UnsafePathError, inside

    if not isinstance(manifest, dict):
        raise TypeError("top level")
    if manifest.get("layout") == "shards":
        return _shard_segments(folder, manifest, task)
    run_task = manifest.get("task")
    section = manifest
    if run_task == "pipeline":
        task = task or "summarization"
        if task not in manifest.get("outputs", {}):
            raise InputError(f"{folder}: this pipeline run ({manifest.get('order')}) has no {task} output")
        section = manifest["stages"][manifest["outputs"][task]]
        run_task = task
    keys: list[Key] = []
    texts: list[list[str]] = []
    sources: list[str | None] = []
    signals: list[dict[str, Any]] = []
    for doc in section["documents"]:
        if run_task == "translation":
            for index, segment in enumerate(doc["segments"]):
                keys.append((str(doc["id"]), index))
                texts.append([str(segment["output"])])
                sources.append(segment.get("source"))
                signals.append(_signals(segment))
        else:
            try:
                # A manifest names files inside its own folder; one that points elsewhere is refused.
                path = inside(folder, str(doc["output_file"]))
            except UnsafePathError:
                raise InputError(f"{folder}/manifest.json: output_file {doc['output_file']!r} is not inside the "
                                 "run folder") from None
            keys.append((str(doc["id"]), 0))
            texts.append([read_text_file(path).strip()])
    lang = section.get("target_lang") or section.get("lang")
    return Segments(str(folder), keys, texts, run_task, lang, _all_texts(sources, len(keys)),
                    signals if any(signals) else None)


def _shard_segments(folder: Path, manifest: dict[str, Any], task: str | None) -> Segments:
    """A JSONL corpus run: translations sentence by sentence from the details files (aligned as
    a text run's manifest aligns them), summaries from the shards' records."""
    from toolkit.io.safe_paths import UnsafePathError, inside

    run_task = manifest["task"]
    stage = None
    if run_task == "pipeline":
        run_task = task or "summarization"
        if run_task == "translation" and manifest.get("order") == "summarize-first":
            raise InputError(f"{folder}: this pipeline run (summarize-first) has no translation output")
        stage = "translations"
    keys: list[Key] = []
    texts: list[list[str]] = []
    sources: list[str | None] = []
    signals: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for shard in manifest["shards"]:
        try:
            outputs, details = inside(folder, str(shard["file"])), inside(folder, str(shard["details"]))
        except UnsafePathError:
            raise InputError(f"{folder}/manifest.json: shard {shard['file']!r} is not inside the run folder") from None
        for (_, record), (_, detail) in zip(jsonl_records(outputs), jsonl_records(details)):
            doc_id = str(record["id"])
            if doc_id in seen:
                raise InputError(f"{folder}: document id {doc_id!r} appears twice (in {seen[doc_id]} and "
                                 f"{shard['file']}); scoring needs unique ids")
            seen[doc_id] = str(shard["file"])
            if run_task == "translation":
                aligned = detail["stages"][stage] if stage else detail
                for index, segment in enumerate(aligned.get("segments", [])):
                    keys.append((doc_id, index))
                    texts.append([str(segment["output"])])
                    sources.append(segment.get("source"))
                    signals.append(_signals(segment))
            else:
                keys.append((doc_id, 0))
                texts.append([str(record["summary"]).strip()])
    lang = manifest.get("target_lang") or manifest.get("lang") or manifest.get("translation", {}).get("target_lang")
    return Segments(str(folder), keys, texts, run_task, lang, _all_texts(sources, len(keys)),
                    signals if any(signals) else None)


def _signals(segment: Any) -> dict[str, Any]:
    """The quality signals a run recorded for one sentence (well-typed ones only)."""
    found: dict[str, Any] = {}
    if not isinstance(segment, dict):
        return found
    if isinstance(segment.get("confidence"), (int, float)) and not isinstance(segment.get("confidence"), bool):
        found["confidence"] = float(segment["confidence"])
    if segment.get("truncated") is True:
        found["truncated"] = True
    flags = segment.get("flags")
    if isinstance(flags, list):
        found["flags"] = [(str(f["name"]), str(f.get("reason", ""))) for f in flags
                          if isinstance(f, dict) and isinstance(f.get("name"), str)]
    return found


def _all_texts(sources: Sequence[Any], count: int) -> list[str] | None:
    """Source texts when every segment has one (a string), else None."""
    if count and len(sources) == count and all(isinstance(s, str) for s in sources):
        return [str(s) for s in sources]
    return None


def _doc_id(record: dict[str, Any], where: str) -> str:
    field = "doc_id" if "doc_id" in record else "id"
    value = record.get(field)
    if value is None:
        raise InputError(f"{where}: record has no 'doc_id' (or 'id')")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: field '{field}' must be a string or an integer, not {_kind(value)}")
    return str(value)


def _segment_index(value: Any, where: str) -> int:
    """A segment number: a JSON integer ≥ 0 (or a string of digits, as some exporters write)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: field 'segment' must be a non-negative integer, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value[:40] + ("…" if len(value) > 40 else ""), ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, int) else f"the number {value!r}"
    return "a list" if isinstance(value, list) else "an object"


def _texts(record: dict[str, Any], role: str, where: str) -> list[str]:
    """The reference(s), the hypothesis or the source of one record; each must be a string."""
    if role == "src":
        if "source" not in record:
            raise InputError(f"{where}: record has no 'source' field")
        if not isinstance(record["source"], str):
            raise InputError(f"{where}: field 'source' must be a string, not {_kind(record['source'])}")
        return [record["source"]]
    if role == "ref" and ("references" in record or "reference" in record):
        field = "references" if "references" in record else "reference"
        value = record[field]
        if field == "references" and not isinstance(value, str):
            if not isinstance(value, list) or not value:
                raise InputError(f"{where}: field 'references' must be a non-empty list of strings, not {_kind(value)}")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise InputError(f"{where}: field 'references[{i}]' must be a string, not {_kind(item)}")
            return list(value)
    else:
        found = next((f for f in HYPOTHESIS_FIELDS if f in record), None)
        if found is not None:
            field, value = found, record[found]
        elif isinstance(record.get("references"), list) and record["references"]:
            field, value = "references[0]", record["references"][0]  # a reference file scored as a system
        else:
            wanted = "'reference' or 'references'" if role == "ref" else "one of " + ", ".join(HYPOTHESIS_FIELDS)
            raise InputError(f"{where}: record has no text field ({wanted})")
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{field}' must be a string, not {_kind(value)}")
    return [value]


def _from_jsonl(path: Path, role: str) -> Segments:
    keys: list[Key] = []
    texts: list[list[str]] = []
    sources: list[Any] = []
    counters: dict[str, int] = {}
    seen: dict[Key, int] = {}  # key → line number where it first appeared
    has_segment = False
    for lineno, record in jsonl_records(path):
        where = f"{path}:{lineno}"
        doc_id = _doc_id(record, where)
        if "segment" in record:
            has_segment = True
            index = _segment_index(record["segment"], where)
        else:
            index = counters.get(doc_id, 0)
        counters[doc_id] = index + 1
        refs = _texts(record, role, where)
        key = (doc_id, index)
        if key in seen:
            raise InputError(f"{where}: field 'segment': document {doc_id} segment {index} already appeared on line "
                             f"{seen[key]} (duplicate doc_id + segment)")
        seen[key] = lineno
        keys.append(key)
        texts.append(refs)
        sources.append(record.get("source"))
    task = "translation" if has_segment else ("summarization" if all(i == 0 for _, i in keys) else None)
    return Segments(str(path), keys, texts, task, sources=_all_texts(sources, len(keys)))


def load_segments(path: str, role: str = "hyp", task: str | None = None) -> Segments:
    """Read hypotheses (role 'hyp'), references (role 'ref') or sources (role 'src') from a run folder,
    JSONL or text. A run folder given as sources gives its segments' source texts."""
    try:
        return _load_segments(path, role, task)
    except InputError as exc:
        # The readers' hints name --encoding, which evaluate (and review) lack: they read UTF-8 only.
        message = str(exc).replace(ENCODING_HINT, "evaluate reads UTF-8, as review does: convert the file")
        message = message.replace(BINARY_HINT, "evaluate reads UTF-8, as review does (a byte-order "
                                               "mark also tells UTF-16/32): convert the file")
        raise InputError(message) from None


def _load_segments(path: str, role: str, task: str | None) -> Segments:
    location = Path(path)
    if not location.exists():
        raise InputError(f"{path}: no such file or directory")
    if location.is_dir():
        if not (location / "manifest.json").is_file():
            raise InputError(f"{path}: folder is not a toolkit run (no manifest.json)")
        found = _from_run(location, task)
        if role == "src":
            if found.sources is None:
                raise InputError(f"{path}: this run's manifest does not hold the segments' source texts")
            return Segments(found.origin, found.keys, [[t] for t in found.sources], found.task, found.lang, found.sources)
        return found
    if location.suffix.lower() == ".jsonl":
        return _from_jsonl(location, role)
    text = read_text_file(location)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return Segments(str(location), None, [[line] for line in lines],
                    sources=[line for line in lines] if role == "src" else None)


def align_sources(keys: Sequence[Key], segments: Segments, quiet: bool = False) -> list[str] | None:
    """The source text of each aligned segment (``keys`` from ``align``), from ``segments``' sources
    (or, for a --src file, its texts). ``quiet``: None instead of an error when they do not fit."""
    sources = segments.sources
    if sources is None:
        if quiet:
            return None
        raise InputError(f"{segments.origin}: holds no source texts")
    if segments.keys is None:
        if len(sources) != len(keys):
            if quiet:
                return None
            raise InputError(f"{segments.origin} has {len(sources)} sources but there are {len(keys)} segments")
        # Plain-text sources: line i is the i-th segment in document and segment order, as for a
        # plain-text hypothesis or reference file (``line_keys``).
        lookup = dict(zip(line_keys(keys, "the segments scored", segments.origin), sources))
        return [lookup[k] for k in keys]
    lookup = dict(zip(segments.keys, sources))
    missing = [f"{d}#{i}" for d, i in keys if (d, i) not in lookup]
    if missing:
        if quiet:
            return None
        raise InputError(f"{segments.origin}: no source for segments {_preview(missing)}")
    return [lookup[k] for k in keys]


def merge_references(sources: Sequence[Segments]) -> Segments:
    """Several --ref files: each adds one more reference to every segment."""
    if len(sources) == 1:
        return sources[0]
    keyed = next((s for s in sources if s.keys is not None), None)
    if keyed is not None and keyed.keys is not None:  # plain-text files: their lines take its ids
        sources = [s if s.keys is not None or len(s) != len(keyed) else _keyed(s, line_keys(keyed.keys, keyed.origin, s.origin))
                   for s in sources]
    first = sources[0]
    merged = [list(t) for t in first.texts]
    for other in sources[1:]:
        if other.keys != first.keys and (other.keys is not None and first.keys is not None):
            if set(other.keys) != set(first.keys):
                raise InputError(f"{other.origin}: its ids differ from those of {first.origin}")
            lookup = dict(zip(other.keys, other.texts))
            for i, key in enumerate(first.keys):
                merged[i].extend(lookup[key])
            continue
        if len(other) != len(first):
            raise InputError(f"{other.origin} has {len(other)} segments but {first.origin} has {len(first)}")
        for i, texts in enumerate(other.texts):
            merged[i].extend(texts)
    return Segments(" + ".join(s.origin for s in sources), first.keys, merged, first.task, first.lang)


def _preview(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def line_keys(keys: Sequence[Key], origin: str, plain: str) -> list[Key]:
    """The (document, segment) of each line of the plain-text file ``plain`` scored against the
    segments ``keys`` of ``origin`` (JSONL or a run): its documents in the order they first appear,
    each one's segments by number (so the records of one document may come in any order). When a
    document's records are not one block, no order of lines is implied: an error says how to make
    the two sides comparable."""
    blocks: dict[str, list[int]] = {}
    last: str | None = None
    for doc, index in keys:
        if doc != last:
            if doc in blocks:
                raise InputError(f"{origin}: the records of document {doc} are not together, so the "
                                 f"lines of {plain} (plain text) cannot be matched to its segments; give {plain} "
                                 f"as JSONL with doc_id and segment, or keep each document's records together")
            blocks[doc] = []
            last = doc
        blocks[doc].append(index)
    return [(doc, index) for doc, indexes in blocks.items() for index in sorted(indexes)]


def _keyed(plain: Segments, keys: list[Key]) -> Segments:
    """A plain-text side with the keys of its lines (``line_keys`` of the other side)."""
    return Segments(plain.origin, keys, plain.texts, plain.task, plain.lang, plain.sources)


def align(hyp: Segments, ref: Segments) -> tuple[list[Key], list[str], list[list[str]]]:
    """Hypotheses and references in reference order, matched by document id and segment number;
    any mismatch is an error that lists it. A plain-text side (no ids) is matched line by line to
    the other side's segments in their order (see ``line_keys``); two plain-text sides by position.

    The references are ``ref.texts`` itself (not a copy: at 100k segments a copy costs ~6 MB)."""
    if len(hyp) == 0:
        raise InputError(f"{hyp.origin}: empty hypothesis (no segments)")
    if hyp.keys is None or ref.keys is None:
        if len(hyp) != len(ref):
            raise InputError(f"{hyp.origin} has {len(hyp)} segments but {ref.origin} has {len(ref)}")
        if hyp.keys is None and ref.keys is None:
            return [("", i) for i in range(len(ref))], _non_blank(hyp, [t[0] for t in hyp.texts]), ref.texts
    # One side is plain text: its lines take the other side's documents and segment numbers.
    hyp_keys = hyp.keys if hyp.keys is not None else line_keys(ref.keys or [], ref.origin, hyp.origin)
    ref_keys = ref.keys if ref.keys is not None else line_keys(hyp_keys, hyp.origin, ref.origin)
    # Dict indexes throughout: linear in the number of segments (50k documents match in about a second).
    hyp_counts = Counter(d for d, _ in hyp_keys)
    ref_counts = Counter(d for d, _ in ref_keys)
    missing = [d for d in ref_counts if d not in hyp_counts]
    extra = [d for d in hyp_counts if d not in ref_counts]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing from {hyp.origin}: {_preview(missing)}")
        if extra:
            parts.append(f"not in {ref.origin}: {_preview(extra)}")
        # A record moved to a wrong id also leaves its own document short: name both.
        uneven = [f"{d} ({hyp_counts[d]} vs {n})" for d, n in ref_counts.items() if d in hyp_counts and hyp_counts[d] != n]
        if uneven:
            parts.append(f"segment counts differ ({hyp.origin} vs {ref.origin}): {_preview(uneven)}")
        raise InputError("document ids do not match; " + "; ".join(parts))
    for doc, n_ref in ref_counts.items():
        if hyp_counts[doc] != n_ref:
            raise InputError(f"document {doc}: {hyp.origin} has {hyp_counts[doc]} segments but {ref.origin} has {n_ref}")
    lookup = dict(zip(hyp_keys, hyp.texts))
    bad = [f"{d}#{i}" for d, i in ref_keys if (d, i) not in lookup]
    if bad:
        wanted = set(ref_keys)
        extra = [f"{d}#{i}" for d, i in hyp_keys if (d, i) not in wanted]
        raise InputError(f"segment ids do not match: missing from {hyp.origin}: {_preview(bad)}; "
                         f"not in {ref.origin}: {_preview(extra)}")
    hypotheses = [lookup[k][0] for k in ref_keys]
    return list(ref_keys), _non_blank(hyp, hypotheses), ref.texts


def _non_blank(hyp: Segments, hypotheses: list[str]) -> list[str]:
    if not any(h.strip() for h in hypotheses):
        raise InputError(f"{hyp.origin}: empty hypothesis (every segment is blank)")
    return hypotheses
