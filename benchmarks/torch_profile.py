"""Where the torch backend's translate time goes: torch.profiler's top operators, per system.

    python benchmarks/torch_profile.py [--systems transformers,float32,auto,...] [--beams 4] [--tokens 32]
                                       [--sentences N] [--threads N]

The model and inputs are the speed benchmark's (opus-mt-fr-en's architecture, random weights, the
25 seed sentences (the first ``--sentences``), every sentence generating exactly ``--tokens`` tokens). Each system is timed
once after a warm-up, then profiled once (profiling inflates the times: read its shares, not its
seconds). Systems: ``transformers`` (model-card usage, one document per call), the toolkit's
torch backend with ``float32``, ``auto``, ``int8``, and ``auto-sdpa`` / ``float32-eager`` (the
attention the toolkit does not choose for that dtype, for the decision in
toolkit/engines/base.py ``attention_implementation``), and ``confidence`` (float32, with the
confidence recorder).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import build_model, translation_documents


def documents(limit: int) -> list[list[str]]:
    """The seed documents' sentences, the first ``limit`` of them, in their documents."""
    docs, left = [], limit
    for doc in translation_documents():
        if left > 0:
            docs.append(doc[:left])
            left -= len(docs[-1])
    return docs


def toolkit_runner(model_dir: Path, system: str, beams: int, tokens: int, threads: int, limit: int) -> Any:
    from toolkit.engines import base
    from toolkit.engines.loader import load_engine
    from toolkit.options import EngineOptions, GenerationOptions

    dtype = "auto" if system.startswith("auto") else "float32"
    if system in ("auto-sdpa", "float32-eager"):
        forced = "sdpa" if system == "auto-sdpa" else "eager"
        base.attention_implementation = lambda device, dtype: forced  # type: ignore[assignment]
    options = EngineOptions(device="cpu", backend="torch", dtype=dtype, threads=threads, dedupe=False,
                            quantization="int8" if system == "int8" else None, confidence=system == "confidence")
    engine = load_engine(str(model_dir), "translation", options,
                         GenerationOptions(num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens))
    texts = [s for doc in documents(limit) for s in doc]
    return lambda: engine.generate(texts), engine.describe()


def plain_runner(model_dir: Path, beams: int, tokens: int, threads: int, limit: int) -> Any:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    docs = documents(limit)

    def run() -> None:
        for doc in docs:
            inputs = tokenizer(doc, padding=True, return_tensors="pt")
            model.generate(**inputs, num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens)
    return run, {"attention": model.config._attn_implementation, "dtype": "float32"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", default="transformers,float32,auto")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sentences", type=int, default=25)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from torch.profiler import ProfilerActivity, profile

    model_dir = build_model("translation", Path(tempfile.gettempdir()) / "toolkit-confidence-cost", args.quick)
    for system in args.systems.split(","):
        if system == "transformers":
            run, described = plain_runner(model_dir, args.beams, args.tokens, args.threads, args.sentences)
        else:
            run, described = toolkit_runner(model_dir, system, args.beams, args.tokens, args.threads, args.sentences)
        run()  # warm-up
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        print(f"\n## {system} ({described.get('dtype')}, attention {described.get('attention')}): "
              f"{seconds:.2f} s unprofiled", flush=True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top), flush=True)


if __name__ == "__main__":
    main()
