"""One benchmark system on one dataset, in a process of its own (so its memory is its own).

    python -m toolkit.benchmark.worker SPEC.json RESULT.json

Prints ``progress N`` lines on stdout as documents finish; writes everything to RESULT.json.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _progress(n: int = 1) -> None:
    print(f"progress {n}", flush=True)


def _load(system: dict[str, Any], dataset: dict[str, Any]) -> tuple[Any, Any, list[dict[str, Any]]]:
    """(translator or None, summarizer or None, model descriptions)."""
    from toolkit.config import resolve_engine
    from toolkit.options import EngineOptions, GenerationOptions
    from toolkit.tasks.summarize import load_summarizer
    from toolkit.tasks.translate import load_translator

    given = EngineOptions(**{k: system[k] for k in ("device", "backend", "quantization", "threads", "batch_size")})
    engine, summary_engine = resolve_engine("translation", given), resolve_engine("summarization", given)
    generation = GenerationOptions(**system["generation"])
    translator = summarizer = None
    task = system["task"]
    if task == "translation":
        translator = load_translator(system["model"], dataset["source_lang"], dataset["target_lang"], engine=engine,
                                     generation=generation)
    elif task == "summarization":
        summarizer = load_summarizer(system["model"], dataset["source_lang"], summary_engine, generation)
    else:
        translator = load_translator(system["translator"], dataset["source_lang"], dataset["target_lang"], engine=engine)
        lang = dataset["target_lang"] if system["order"] == "translate-first" else dataset["source_lang"]
        summarizer = load_summarizer(system["summarizer"], lang, summary_engine, generation)
    described = [m.describe() for m in (translator, summarizer) if m is not None]
    return translator, summarizer, described


def _model_bytes(descriptions: list[dict[str, Any]]) -> int:
    from toolkit.models.hub import model_size_bytes

    total = 0
    for d in descriptions:
        path = d.get("converted_model") or d.get("model", {}).get("path")
        if path and Path(path).is_dir():
            total += model_size_bytes(Path(path))
    return total


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from toolkit.benchmark.measure import peak_rss_mb
    from toolkit.io.documents import Document, drop_blank, read_inputs
    from toolkit.runtime import quiet_libraries
    from toolkit.tasks.pipeline import run_pipeline

    quiet_libraries()
    system, dataset = spec["system"], spec["dataset"]
    docs, _ = drop_blank(read_inputs(dataset["sources"]))
    if spec.get("limit"):
        docs = docs[: spec["limit"]]
    start = time.perf_counter()
    translator, summarizer, described = _load(system, dataset)
    load_seconds = time.perf_counter() - start

    def process(batch: list[Document]) -> list[dict[str, Any]]:
        """All of ``batch`` at once, through the library's batch methods (as the CLI runs them):
        sentences of every document share batches; each document's seconds is the call's time
        apportioned by its share of the source tokens, as the CLI's manifest gives it."""
        if system["task"] == "translation":
            return [{"seconds": r.seconds, "translation": [s.output for s in r.segments],
                     "translation_sources": [s.source for s in r.segments], "source_tokens": r.source_tokens, "output_tokens": r.output_tokens, "warnings": r.warnings}
                    for r in translator.translate_batch(batch)]
        if system["task"] == "summarization":
            return [{"seconds": r.seconds, "summarization": r.output, "source_tokens": r.source_tokens,
                     "output_tokens": r.output_tokens, "warnings": r.warnings}
                    for r in summarizer.summarize_documents(batch)]
        result = run_pipeline(batch, translator, summarizer, system["order"])
        stages = {s.name: s.results for s in result.stages}
        first = "translate" if system["order"] == "translate-first" else "summarize"
        outputs = []
        for i in range(len(batch)):
            done = {name: results[i] for name, results in stages.items()}
            out: dict[str, Any] = {"seconds": sum(r.seconds for r in done.values()),
                                   "source_tokens": done[first].source_tokens,
                                   "output_tokens": sum(r.output_tokens for r in done.values()),
                                   "warnings": [w for r in done.values() for w in r.warnings]}
            if system["order"] == "translate-first":
                out["translation"] = [s.output for s in done["translate"].segments]
                out["translation_sources"] = [s.source for s in done["translate"].segments]
                out["summarization"] = done["summarize"].output
            else:
                out["summarization"] = done["translate"].output
            outputs.append(out)
        return outputs

    for _ in range(spec.get("warmup", 1)):
        process(docs[:1])
    per_doc: dict[str, dict[str, Any]] = {}
    for repeat in range(spec.get("repeats", 1)):
        # One call per repeat with every document of the dataset, as a real run batches them.
        for doc, output in zip(docs, process(docs)):
            entry = per_doc.setdefault(doc.id, {"seconds": []})
            entry["seconds"].append(output.pop("seconds"))
            entry.update(output)
            if repeat == 0:
                _progress()
    return {"system": system["name"], "load_seconds": load_seconds, "documents": per_doc,
            "doc_order": [d.id for d in docs], "peak_rss_mb": peak_rss_mb(), "model_bytes": _model_bytes(described),
            "models": described, "repeats": spec.get("repeats", 1), "warmup": spec.get("warmup", 1)}


def main() -> None:
    spec_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(spec_path.read_text())
    try:
        result = run(spec)
        code = 0
    except Exception as exc:  # reported in the results; the other systems go on
        from toolkit.errors import ToolkitError

        message = str(exc) if isinstance(exc, ToolkitError) else f"{type(exc).__name__}: {exc}"
        result = {"system": spec["system"]["name"], "error": message.splitlines()[0] if message else type(exc).__name__}
        if not isinstance(exc, ToolkitError):
            result["traceback"] = traceback.format_exc()
        code = 1
    result_path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    sys.exit(code)


if __name__ == "__main__":
    main()
