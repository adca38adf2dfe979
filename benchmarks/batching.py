"""Many short documents (a JSONL of headlines, say): one document at a time vs batched across
documents, with the toolkit's torch and ct2 backends.

    python -m benchmarks/batching.py [--out DIR] [--quick]

Uses the speed benchmark's MarianMT (opus-mt-fr-en dimensions, random weights) and the 25 French
sentences of the seeds, each as its own document; every sentence generates exactly ``--tokens``
tokens with 4 beams.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from speed import REPO, build_model, machine, translation_documents


def measure(model_dir: Path, backend: str, tokens: int, beams: int, threads: int) -> dict[str, Any]:
    from toolkit.io.documents import Document
    from toolkit.options import EngineOptions, GenerationOptions
    from toolkit.tasks.translate import load_translator

    sentences = [s for doc in translation_documents() for s in doc]
    docs = [Document(id=f"s{i}", text=s, source="bench") for i, s in enumerate(sentences)]
    translator = load_translator(str(model_dir), "fr", "en",
                                 engine=EngineOptions(device="cpu", backend=backend, threads=threads, dtype="float32",
                                                      quantization="int8" if backend == "ct2" else None),
                                 generation=GenerationOptions(num_beams=beams, min_new_tokens=tokens,
                                                              max_new_tokens=tokens))
    translator.translate_batch(docs[:2])  # warm-up
    start = time.perf_counter()
    for doc in docs:
        translator.translate_document(doc)
    one_at_a_time = time.perf_counter() - start
    start = time.perf_counter()
    translator.translate_batch(docs)
    batched = time.perf_counter() - start
    return {"backend": backend, "documents": len(docs), "one_at_a_time_seconds": one_at_a_time,
            "batched_seconds": batched, "speedup": one_at_a_time / batched}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks/batching.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "speed")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="tiny dimensions: checks the machinery")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from toolkit.io.documents import atomic_write_text
    from toolkit.runtime import quiet_libraries

    quiet_libraries()
    model_dir = build_model("translation", args.out / "models", args.quick)
    results = [measure(model_dir, backend, args.tokens, args.beams, args.threads) for backend in ("torch", "ct2")]
    m = machine()
    lines = [f"Machine: {m['processor']}, {m['cores']} cores; {args.beams} beams, {args.tokens} generated tokens per "
             f"sentence; {results[0]['documents']} one-sentence documents.", "",
             "| backend | one document at a time (s) | batched across documents (s) | speed-up |", "|---|---|---|---|"]
    lines += [f"| {r['backend']} | {r['one_at_a_time_seconds']:.2f} | {r['batched_seconds']:.2f} | {r['speedup']:.1f}× |"
              for r in results]
    report = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "batching.json", json.dumps({"machine": m, "results": results}, indent=2) + "\n")
    atomic_write_text(args.out / "batching.md", report)
    print(report)


if __name__ == "__main__":
    main()
