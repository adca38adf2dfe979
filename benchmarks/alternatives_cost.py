"""What ``alternatives`` costs: translate time with alternatives=0 and 3, per backend, interleaved.

    python benchmarks/alternatives_cost.py [--sentences 10] [--rounds 2]

The model: serve_load.py's MarianMT at opus-mt-fr-en's dimensions with random weights (4 beams, at
most 40 tokens), built once under outputs/benchmarks/serve-load/. The seed sentences, one
document, deduplication off (each round decodes again). Whole ``Translator.translate_batch`` time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backends", default="ct2,torch")
    args = parser.parse_args()
    work = REPO / "outputs" / "benchmarks" / "serve-load"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOOLKIT_CACHE", str(work / "toolkit-cache"))
    from serve_load import build_model, seed_sentences

    from toolkit.io.runs import cpu_model
    from toolkit.tasks.translate import Translator, document_from_text

    model = build_model(work, tiny=False)
    text = " ".join(seed_sentences()[: args.sentences])
    rows = {}
    for backend in args.backends.split(","):
        translator = Translator.from_pretrained(str(model), "fr", "en", backend=backend, dedupe=False)
        translator.translate_batch([document_from_text("Bonjour.", "warm-up")], alternatives=1)
        seconds: dict[int, list[float]] = {0: [], 3: []}
        for _ in range(args.rounds):
            for count in (0, 3):
                start = time.perf_counter()
                translator.translate_batch([document_from_text(text, "a")], alternatives=count)
                seconds[count].append(time.perf_counter() - start)
        rows[backend] = {"alternatives=0": seconds[0], "alternatives=3": seconds[3],
                         "ratio": statistics.median(seconds[3]) / statistics.median(seconds[0])}
        print(backend, json.dumps(rows[backend]), file=sys.stderr, flush=True)
    print(json.dumps({"machine": cpu_model(), "load": os.getloadavg(), "sentences": args.sentences, "rows": rows},
                     indent=2))


if __name__ == "__main__":
    main()
