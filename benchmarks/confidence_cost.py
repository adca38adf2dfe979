"""What the quality signals cost: translate time with and without model confidence, per backend,
and the checks' time per sentence.

    python benchmarks/confidence_cost.py [--rounds 5] [--beams 4] [--tokens 40] [--quick]

The model is the speed benchmark's (opus-mt-fr-en's architecture and vocabulary size, random
weights); inputs are the seed articles' 25 sentences, each generating exactly ``--tokens`` tokens.
"With" is the engines as they are; "without" decodes as they did before confidence existed
(torch: ``generate`` without the recording logits processor; ct2: ``return_scores=False``).
Rounds alternate the two, and each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import REPO, build_model

from toolkit.engines.base import Decoded, TorchEngine
from toolkit.engines.ct2 import CT2Engine


def torch_without(engine: TorchEngine, batch: Sequence[Sequence[int]]) -> list[Decoded]:
    """TorchEngine.decode_batch as it was before confidence (the commit before 69a9679)."""
    import torch

    features = engine.tokenizer.pad({"input_ids": list(batch)}, return_tensors="pt")
    with torch.inference_mode():
        output = engine.model.generate(**features, **engine.settings).cpu()
    texts = engine.tokenizer.batch_decode(output, skip_special_tokens=True)
    return [Decoded(t.strip(), 0, False) for t in texts]


def ct2_without(engine: CT2Engine, batch: Sequence[Sequence[int]]) -> list[Any]:
    tokens = [engine.tokenizer.convert_ids_to_tokens(list(ids)) for ids in batch]
    return list(engine.translator.translate_batch(tokens, max_input_length=0, max_batch_size=0, asynchronous=True,
                                                  **engine.decoding))


def ct2_collect_without(engine: CT2Engine, futures: list[Any]) -> list[Decoded]:
    return [Decoded(engine.tokenizer.decode(engine.tokenizer.convert_tokens_to_ids(f.result().hypotheses[0]),
                                            skip_special_tokens=True), 0, False) for f in futures]


def timed(engine: Any, texts: list[str]) -> float:
    start = time.perf_counter()
    engine.generate(texts)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from toolkit.engines.loader import load_engine
    from toolkit.options import EngineOptions, GenerationOptions
    from toolkit.quality import Pair, assess
    from toolkit.text.segment import segment_document

    texts = [s for p in sorted((REPO / "seeds").glob("*.txt"))
             for _, _, s in segment_document(p.read_text(encoding="utf-8"), "fr").sentences]
    model = build_model("translation", Path(tempfile.gettempdir()) / "toolkit-confidence-cost", args.quick)
    generation = GenerationOptions(num_beams=args.beams, min_new_tokens=args.tokens, max_new_tokens=args.tokens)
    figures: dict[str, Any] = {"sentences": len(texts), "beams": args.beams, "tokens": args.tokens,
                               "rounds": args.rounds}
    for backend, quantization in (("torch", None), ("ct2", "int8")):
        engine = load_engine(str(model), "translation", EngineOptions(device="cpu", backend=backend, dtype="float32",
                                                                      quantization=quantization, threads=args.threads),
                             generation)
        timed(engine, texts[:4])  # warm-up
        with_signals, without = [], []
        for _ in range(args.rounds):
            with_signals.append(timed(engine, texts))
            if backend == "torch":
                engine.decode_batch = lambda batch, e=engine: torch_without(e, batch)  # type: ignore[method-assign]
            else:
                engine._submit = lambda batch, e=engine: ct2_without(e, batch)  # type: ignore[method-assign]
                engine._collect = lambda futures, e=engine: ct2_collect_without(e, futures)  # type: ignore[method-assign]
            without.append(timed(engine, texts))
            for name in ("decode_batch", "_submit", "_collect"):
                engine.__dict__.pop(name, None)
        a, b = statistics.median(with_signals), statistics.median(without)
        figures[backend] = {"with_s": round(a, 3), "without_s": round(b, 3), "cost_pct": round(100 * (a - b) / b, 2),
                            "rounds_with": [round(x, 3) for x in with_signals], "rounds_without": [round(x, 3) for x in without]}
        print(f"{backend}: with confidence {a:.3f} s, without {b:.3f} s: {100 * (a - b) / b:+.1f}%", file=sys.stderr)
        outputs = [g.text for g in engine.generate(texts)]
    pairs = [Pair(s, o) for s, o in zip(texts, outputs)]
    start = time.perf_counter()
    for _ in range(args.rounds):
        assess(pairs, "fr", "en")
    checks = (time.perf_counter() - start) / args.rounds
    figures["checks_s"] = round(checks, 4)
    figures["checks_ms_per_sentence"] = round(1000 * checks / len(pairs), 3)
    print(f"checks: {1000 * checks / len(pairs):.2f} ms per sentence ({checks:.3f} s for {len(pairs)})", file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
