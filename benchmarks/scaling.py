"""Scaling benchmark: `toolkit translate` over JSONL corpora of 1k, 10k and 100k short documents.

    python benchmarks/scaling.py [--sizes 1000,10000,100000] [--engines local,ray-1x2,ray-2x1] [--out DIR]

Documents are 1–3 sentences drawn (seeded) from the French seed articles. The model is the test
suite's tiny MarianMT with random weights (d_model 32, 1+1 layers, a 400-piece tokenizer trained
on the seeds; up to 24 generated tokens per sentence): this benchmark measures the machinery —
memory, streaming, shards, engines — not a model. ``--realistic`` uses a small model (d_model 64,
2+2 layers) with the real opus-mt-tc-big-fr-en tokenizer from ../shared instead. Each run is its own `toolkit` process with the ct2
backend; we report wall time, documents and source tokens per second, the peak resident memory of
the whole process tree (the toolkit and, for Ray, every Ray process it started; sampled every
0.1 s), the time until the first shard is on disk, and the size of manifest.json.

Engines: ``local`` (this process, --threads = every core), ``ray-AxT`` (a local Ray, A actors of T
threads each).

``--limits`` measures the corpus limits of issue 30 instead: the segmentation of one long paragraph
(1 MB and 4 MB: linear means a ratio near 4), `summarize -m lead-1` of one 2 MB record, and the peak
memory of a corpus whose records all fail (20k and 200k lines: flat means failures are not held).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_TOKENIZER = REPO.parent / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer"


def seed_sentences() -> list[str]:
    from toolkit.text.segment import segment_document

    return [s for p in sorted((REPO / "seeds").glob("*.txt"))
            for _, _, s in segment_document(p.read_text(encoding="utf-8"), "fr").sentences]


def write_corpus(path: Path, size: int, sentences: list[str]) -> None:
    rng = random.Random(size)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(size):
            text = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 3)))
            handle.write(json.dumps({"id": f"doc-{i:07d}", "text": text, "source": "synthetic"}, ensure_ascii=False)
                         + "\n")


def build_model(folder: Path, realistic: bool) -> tuple[Path, str]:
    from toolkit.models.random import build_marian, build_marian_from_tokenizer

    if realistic and SHARED_TOKENIZER.is_dir():
        model = build_marian_from_tokenizer(folder / "marian-small", SHARED_TOKENIZER, d_model=64, layers=2, heads=2,
                                            ffn=128, num_beams=1, max_length=32)
        return model, "random MarianMT (d_model 64, 2+2 layers), opus-mt-tc-big-fr-en tokenizer"
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    return build_marian(folder / "marian-tiny", texts), "random MarianMT (d_model 32, 1+1 layers), seed-trained tokenizer"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            tree.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (Ray's raylet, GCS and workers included)."""
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def run(corpus: Path, model: Path, out: Path, engine: str, shard_size: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "toolkit", "translate", str(corpus), "-m", str(model), "--backend", "ct2",
               "--src", "fr", "--shard-size", str(shard_size), "--out", str(out), "-q"]
    if engine.startswith("ray-"):
        actors, threads = engine.removeprefix("ray-").split("x")
        command += ["--engine", "ray", "--actors", actors, "--threads", threads]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    peak, first = 0.0, None
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        if first is None and (out / "part-00000.jsonl").exists():
            first = time.perf_counter() - start
        time.sleep(0.1)
    wall = time.perf_counter() - start
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        return {"engine": engine, "error": f"exit {process.returncode}: {stderr.strip()[-500:]}"}
    manifest = json.loads((out / "manifest.json").read_text())
    totals = manifest["totals"]
    return {"engine": engine, "documents": totals["records"], "seconds": round(wall, 2),
            "docs_per_second": round(totals["records"] / wall, 1),
            "source_tokens_per_second": round(totals["source_tokens"] / wall, 1),
            "peak_rss_mb": round(peak, 1), "first_output_seconds": round(first, 2) if first else None,
            "first_output_share": round(first / wall, 3) if first else None,
            "manifest_bytes": (out / "manifest.json").stat().st_size, "shards": totals["shards"],
            "cluster": manifest.get("cluster")}


def cpu_model() -> str:
    from toolkit.io.runs import cpu_model as model

    return model()


def long_paragraph(size: int, sentences: list[str], seed: int = 0) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        parts.append(rng.choice(sentences))
        total += len(parts[-1]) + 1
    return " ".join(parts)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - start


def limits(work: Path) -> list[dict[str, Any]]:
    from toolkit.text.segment import sentence_spans

    sentences = seed_sentences()
    rows: list[dict[str, Any]] = []
    for megabytes in (1, 4):
        text = long_paragraph(megabytes << 20, sentences)
        start = time.perf_counter()
        found = len(sentence_spans(text, "fr"))
        rows.append({"row": f"segment one {megabytes} MB paragraph (fr)", "sentences": found,
                     "seconds": round(time.perf_counter() - start, 2)})
        print(json.dumps(rows[-1]), flush=True)
    record = work / "one-record.jsonl"
    record.write_text(json.dumps({"id": "big", "text": long_paragraph(2 << 20, sentences)}, ensure_ascii=False) + "\n")
    seconds = timed([sys.executable, "-m", "toolkit", "summarize", str(record), "-m", "lead-1", "--out", "-",
                              "-q"])
    rows.append({"row": "summarize -m lead-1, one 2 MB record", "seconds": round(seconds, 2)})
    print(json.dumps(rows[-1]), flush=True)
    # Each count in its own process tree, so that ru_maxrss is that run's peak (smallest first).
    for count in (20_000, 200_000):
        corpus = work / f"failing-{count}.jsonl"
        corpus.write_text("".join(f'{{"id": "doc-{i}", broken line {i}}}\n' for i in range(count)))
        out = work / f"failing-{count}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        child = subprocess.run([sys.executable, "-c", (
            "import json, subprocess, sys, resource, time; start = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], capture_output=True); "
            "print(json.dumps([time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"),
            sys.executable, "-m", "toolkit", "summarize", str(corpus), "-m", "lead-1", "--out", str(out), "-q"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
        seconds, kilobytes = json.loads(child.stdout)
        rows.append({"row": f"{count:,} failing records (summarize -m lead-1)", "seconds": round(seconds, 2),
                     "peak_rss_mb": round(kilobytes / 1024, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--engines", default="local,ray-1x2,ray-2x1")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--realistic", action="store_true",
                        help="the opus-mt tokenizer from ../shared (60k vocabulary; ~8x slower per document)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/toolkit-scaling"))
    parser.add_argument("--out", type=Path, default=REPO / "evaluation" / "benchmarks")
    parser.add_argument("--limits", action="store_true", help="the corpus limits of issue 30 (see above)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.limits:
        report = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
                  "rows": limits(args.work), "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "limits.json").write_text(json.dumps(report, indent=2) + "\n")
        return
    model, model_note = build_model(args.work, args.realistic)
    sentences = seed_sentences()
    # A first run converts the model to CTranslate2 (torch and transformers in memory): done once
    # here, so every measured run starts from the conversion cache, as a user's second run does.
    warmup = args.work / "corpus-warmup.jsonl"
    write_corpus(warmup, 20, sentences)
    subprocess.run(["rm", "-rf", str(args.work / "run-warmup")], check=True)
    print(json.dumps({"warmup": run(warmup, model, args.work / "run-warmup", "local", args.shard_size)}), flush=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        corpus = args.work / f"corpus-{size}.jsonl"
        if not corpus.exists():
            write_corpus(corpus, size, sentences)
        for engine in args.engines.split(","):
            out = args.work / f"run-{size}-{engine}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            row = {"size": size, **run(corpus, model, out, engine, args.shard_size)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    report = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
              "model": model_note, "shard_size": args.shard_size, "rows": rows,
              "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "scaling.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Scaling benchmark, {report['created']}: {report['machine']['cpu']}, {report['machine']['cores']} cores; "
             f"{report['model']}; ct2 backend; shards of {report['shard_size']} records.", "",
             "| documents | engine | seconds | docs/s | source tok/s | peak RSS (MiB) | first shard (s, share of run) "
             "| manifest (bytes) |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['size']:,} | {row['engine']} | failed: {row['error'][:80]} | | | | | |")
            continue
        first = f"{row['first_output_seconds']} ({row['first_output_share']:.0%})" if row["first_output_seconds"] else "–"
        lines.append(f"| {row['size']:,} | {row['engine']} | {row['seconds']} | {row['docs_per_second']} | "
                     f"{row['source_tokens_per_second']} | {row['peak_rss_mb']} | {first} | {row['manifest_bytes']:,} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
