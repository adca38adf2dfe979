"""What the quality signals cost: translate time with and without model confidence, per backend,
and the checks' time per sentence; with ``--runs``, whole `toolkit translate` processes side by
side — ``--no-checks`` against the default (checks, ct2 confidence) — on the seed articles and on
a larger JSONL corpus (the seeds' paragraphs, repeated).

    python benchmarks/confidence_cost.py [--rounds 5] [--beams 4] [--tokens 40] [--threads N] [--quick]
    python benchmarks/confidence_cost.py --runs [--rounds 3] [--corpus-docs 200]

The model is the speed benchmark's (opus-mt-fr-en's architecture and vocabulary size, random
weights); inputs are the seed articles' 25 sentences, each generating exactly ``--tokens`` tokens.
"With" is an engine with ``EngineOptions(confidence=True)``, "without" the default (torch:
``generate`` without the recording logits processor; ct2: ``return_scores=False``).
Rounds alternate the two, and each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import REPO, build_model


def timed(engine: Any, texts: list[str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one call; its CPU seconds appended to ``cpu`` (steadier than wall time on a
    loaded machine, and the same measure with one thread)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    engine.generate(texts)
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def whole_runs(model: Path, rounds: int, tokens: int, corpus_docs: int, threads: int) -> dict[str, Any]:
    """Wall time of whole `toolkit translate` processes, checks off and on, alternated per round."""
    import os
    import subprocess

    work = Path(tempfile.mkdtemp(prefix="toolkit-checks-cost-"))
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    paragraphs = [p for f in seeds for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    corpus = work / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": paragraphs[i % len(paragraphs)]},
                                         ensure_ascii=False) + "\n" for i in range(corpus_docs)), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    figures: dict[str, Any] = {}
    for name, inputs in (("seeds", [str(p) for p in seeds]), ("corpus", [str(corpus)])):
        times: dict[str, list[float]] = {"no_checks": [], "checks": []}
        warm = [sys.executable, "-m", "toolkit", "translate", *inputs, "-m", str(model), "--src", "fr", "--backend",
                "ct2", "--max-new-tokens", "2", "--out", str(work / f"{name}-warm-up"), "-q"]
        subprocess.run(warm, env=env, check=True, capture_output=True)  # converts the model once, fills caches
        for round_ in range(rounds):
            for config, extra in (("no_checks", ["--no-checks"]), ("checks", [])):
                out = work / f"{name}-{config}-{round_}"
                command = [sys.executable, "-m", "toolkit", "translate", *inputs, "-m", str(model), "--src", "fr",
                           "--tgt", "en", "--backend", "ct2", "--max-new-tokens", str(tokens), "--threads",
                           str(threads), "--out", str(out), "-q", *extra]
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True, capture_output=True)
                times[config].append(time.perf_counter() - start)
        off, on = statistics.median(times["no_checks"]), statistics.median(times["checks"])
        figures[name] = {"no_checks_s": round(off, 2), "checks_s": round(on, 2), "cost_pct": round(100 * (on - off) / off, 2),
                         "rounds": {k: [round(x, 2) for x in v] for k, v in times.items()}}
        print(f"{name}: --no-checks {off:.2f} s, checks (+ ct2 confidence) {on:.2f} s: {100 * (on - off) / off:+.1f}%",
              file=sys.stderr)
    figures["corpus_docs"] = corpus_docs
    figures["load_average"] = os.getloadavg()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--runs", action="store_true", help="whole translate processes, checks off and on")
    parser.add_argument("--corpus-docs", type=int, default=200)
    args = parser.parse_args()
    if args.runs:
        model = build_model("translation", Path(tempfile.gettempdir()) / "toolkit-confidence-cost", args.quick)
        figures = whole_runs(model, args.rounds, args.tokens, args.corpus_docs, args.threads)
        if args.out:
            args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return

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
        options = EngineOptions(device="cpu", backend=backend, dtype="float32", quantization=quantization,
                                threads=args.threads)
        engine = load_engine(str(model), "translation", options.replace(confidence=True), generation)
        plain = load_engine(str(model), "translation", options, generation)
        timed(engine, texts[:4])  # warm-up
        timed(plain, texts[:4])
        with_signals, without, cpu_with, cpu_without = [], [], [], []
        for _ in range(args.rounds):
            with_signals.append(timed(engine, texts, cpu_with))
            without.append(timed(plain, texts, cpu_without))
        a, b = statistics.median(with_signals), statistics.median(without)
        ca, cb = statistics.median(cpu_with), statistics.median(cpu_without)
        figures[backend] = {"with_s": round(a, 3), "without_s": round(b, 3), "cost_pct": round(100 * (a - b) / b, 2),
                            "rounds_with": [round(x, 3) for x in with_signals], "rounds_without": [round(x, 3) for x in without],
                            "cpu_with_s": round(ca, 3), "cpu_without_s": round(cb, 3),
                            "cpu_cost_pct": round(100 * (ca - cb) / cb, 2)}
        print(f"{backend}: with confidence {a:.3f} s, without {b:.3f} s: {100 * (a - b) / b:+.1f}% "
              f"(CPU time {ca:.3f} s vs {cb:.3f} s: {100 * (ca - cb) / cb:+.1f}%)", file=sys.stderr)
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
