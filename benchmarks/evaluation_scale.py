"""How `toolkit evaluate` scales: time and peak memory of the whole command on synthetic corpora.

    .venv/bin/python benchmarks/evaluation_scale.py            # 50k documents, 100k segment pairs
    .venv/bin/python benchmarks/evaluation_scale.py --quick    # 5k / 10k, for a smoke run

Writes seeded synthetic JSONL files (hypotheses, references, a baseline) to a temporary folder, runs
`python -m toolkit.cli evaluate` on them as a separate process, and records its wall time and peak
resident memory (ru_maxrss of that child, from os.wait4: what resource.getrusage(RUSAGE_CHILDREN)
reports for it alone). The Markdown table goes to evaluation/benchmarks/evaluation-scale.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from toolkit.io.runs import cpu_model
from toolkit.io.tables import markdown_table

REPO = Path(__file__).resolve().parent.parent
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vi", "zo")
         for b in ("ba", "de", "fi", "go", "hu", "ja", "ke", "li", "mo", "nu", "pa", "qi", "ro", "su", "tu")]


# Realistic per-segment statistics for 3 metrics, then what `evaluate` does with them for a baseline.
RESAMPLING = """
import sys
sys.modules["numba"] = None  # the 50 example segments' TER needs no compiled search (nor its ~100 MiB)
import numpy as np
from toolkit.evaluation.metrics import SacreMetric
from toolkit.evaluation.significance import resample
n, resamples = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
hyp = ["alpha beta gamma delta epsilon zeta eta theta iota kappa"] * 50
metrics, systems, baselines = [], [], []
for name in ("bleu", "chrf", "ter"):
    metric = SacreMetric(name, "en")
    one = metric.compute(hyp, [[h] for h in hyp]).stats
    system = np.rint(one[rng.integers(0, len(one), n)] * rng.uniform(0.6, 1.0, (n, 1)))
    metrics.append(metric)
    systems.append(system)
    baselines.append(np.rint(system * rng.uniform(0.8, 1.0, system.shape)))
resample(systems, [m.from_sums for m in metrics], resamples, 12345, baselines)
"""



# `toolkit ...` as if numba were not installed (in this process: with --jobs 1 there are no workers).
WITHOUT_NUMBA = "import sys; sys.modules['numba'] = None; from toolkit.cli import main; sys.argv[0] = 'toolkit'; main()"


def noisy(words: list[str], rnd: random.Random, keep: float) -> str:
    return " ".join(w if rnd.random() < keep else rnd.choice(WORDS) for w in words) + "."


def write_corpus(folder: Path, documents: int, segments_per_doc: int, seed: int = 1,
                 words_per_segment: tuple[int, int] = (8, 30)) -> tuple[Path, Path, Path]:
    """references, a system and a slightly worse baseline; one JSON line per segment."""
    rnd = random.Random(seed)
    paths = folder / "ref.jsonl", folder / "hyp.jsonl", folder / "base.jsonl"
    with paths[0].open("w") as ref, paths[1].open("w") as hyp, paths[2].open("w") as base, \
            (folder / "ref.txt").open("w") as ref_txt, (folder / "hyp.txt").open("w") as hyp_txt:
        for d in range(documents):
            for s in range(segments_per_doc):
                words = [rnd.choice(WORDS) for _ in range(rnd.randint(*words_per_segment))]
                key = {"doc_id": f"doc{d:06d}", "segment": s}
                reference, system = " ".join(words) + ".", noisy(words, rnd, 0.8)
                ref.write(json.dumps({**key, "reference": reference}) + "\n")
                hyp.write(json.dumps({**key, "translation": system}) + "\n")
                ref_txt.write(reference + "\n")
                hyp_txt.write(system + "\n")
                base.write(json.dumps({**key, "translation": noisy(words, rnd, 0.78)}) + "\n")
    return paths


def measure(command: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MiB, exit code) of one process (with its waited-for children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        print(error, file=sys.stderr)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument("--pairs", type=int, default=100_000, help="segments of the paired (baseline) case")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--out", type=Path, default=REPO / "evaluation" / "benchmarks" / "evaluation-scale.md")
    parser.add_argument("--rows", default="",
                        help="only these rows (1-based, comma-separated, e.g. 13): measured and merged into --out's "
                             "table (a row with the same corpus and command is replaced), with a dated note; the "
                             "other rows are kept as they are")
    args = parser.parse_args()
    only = {int(n) for n in args.rows.split(",") if n.strip()}
    if args.quick:
        args.documents, args.pairs = args.documents // 10, args.pairs // 10
    rows = []
    with tempfile.TemporaryDirectory(prefix="toolkit-eval-scale-") as tmp:
        single = Path(tmp) / "single"
        paired = Path(tmp) / "paired"
        long = Path(tmp) / "long"
        for folder in (single, paired, long):
            folder.mkdir()
        ref, hyp, _ = write_corpus(single, args.documents, 1)
        pref, phyp, pbase = write_corpus(paired, args.pairs // 5, 5, seed=2)
        # Long news-like sentences (20-60 words), the corpus of #29's memory target (<= 300 MB).
        lref, lhyp, lbase = write_corpus(long, args.pairs // 5, 5, seed=3, words_per_segment=(20, 60))
        boot = ["--bootstrap", str(args.bootstrap)]
        toolkit = [sys.executable, "-m", "toolkit.cli", "evaluate"]
        docs = f"{args.documents:,} documents × 1 segment"
        matching = ("import sys, time; t = time.perf_counter(); "
                    "from toolkit.evaluation.data import align, load_segments; "
                    "keys, hyps, refs = align(load_segments(sys.argv[1]), load_segments(sys.argv[2], 'ref')); "
                    "print(len(keys), time.perf_counter() - t)")
        cases = [
            (docs, "reading both JSONL files and matching hypotheses to references by id (no metric)",
             [sys.executable, "-c", matching, str(hyp), str(ref)]),
            (docs, "`toolkit evaluate`: BLEU, chrF++, TER + CIs",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), *boot, "--out", str(single / "scores")]),
            (docs, "`toolkit evaluate --jobs 1` (no worker processes): same",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), *boot, "--jobs", "1", "--out", str(single / "serial")]),
            (docs, "`toolkit evaluate --metrics bleu`: BLEU + CI (and the segment-level chrF every translation gets)",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), "--metrics", "bleu", *boot, "--out", str(single / "bleu")]),
            (docs, "`toolkit evaluate --metrics chrf`: chrF++ + CI",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), "--metrics", "chrf", *boot, "--out", str(single / "chrf")]),
            (docs, "`toolkit evaluate --metrics ter`: TER + CI (and the segment-level chrF)",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), "--metrics", "ter", *boot, "--out", str(single / "ter")]),
            (docs, "`toolkit evaluate --metrics ter --jobs 1`: TER + CI, numba's compiled search, one process",
             [*toolkit, "--hyp", str(hyp), "--ref", str(ref), "--metrics", "ter", *boot, "--jobs", "1",
              "--out", str(single / "ter-numba")]),
            (docs, "the same without numba (the pure-Python search: an install without `toolkit[fast]`)",
             [sys.executable, "-c", WITHOUT_NUMBA, "evaluate", "--hyp", str(hyp), "--ref", str(ref), "--metrics", "ter",
              *boot, "--jobs", "1", "--out", str(single / "ter-python")]),
            (docs + " (plain text)", "for comparison, `sacrebleu -m bleu chrf ter` (no CIs)",
             [sys.executable, "-m", "sacrebleu", str(single / "ref.txt"), "-i", str(single / "hyp.txt"),
              "-m", "bleu", "chrf", "ter", "--chrf-word-order", "2"]),
            (f"{args.pairs:,} segments, statistics only",
             ("CIs of both systems, paired bootstrap and AR for BLEU, chrF++ and TER on precomputed per-segment "
             "statistics (the resampling alone, no text processing)"),
             [sys.executable, "-c", RESAMPLING, str(args.pairs), str(args.bootstrap)]),
            (f"{args.pairs:,} segments ({args.pairs // 5:,} documents) + baseline",
             "`toolkit evaluate --baseline`: BLEU, chrF++, TER + CIs, paired bootstrap and AR",
             [*toolkit, "--hyp", str(phyp), "--ref", str(pref), "--baseline", str(pbase), *boot,
              "--out", str(paired / "scores")]),
            (f"{args.pairs:,} segments ({args.pairs // 5:,} documents) + baseline",
             "`toolkit evaluate --baseline --jobs 1` (no worker processes: statistics extracted in the same process)",
             [*toolkit, "--hyp", str(phyp), "--ref", str(pref), "--baseline", str(pbase), *boot, "--jobs", "1",
              "--out", str(paired / "serial")]),
            (f"{args.pairs:,} segments ({args.pairs // 5:,} documents) of 20–60 words + baseline",
             "`toolkit evaluate --baseline` on long news-like sentences: BLEU, chrF++, TER + CIs, paired bootstrap and AR",
             [*toolkit, "--hyp", str(lhyp), "--ref", str(lref), "--baseline", str(lbase), *boot,
              "--out", str(long / "scores")]),
        ]
        if only - set(range(1, len(cases) + 1)):
            raise SystemExit(f"--rows: the rows are 1 to {len(cases)}")
        for number, (corpus, metrics, cli) in enumerate(cases, start=1):
            if only and number not in only:
                continue
            print(f"running: {corpus}: {metrics}", file=sys.stderr)
            load = os.getloadavg()[0]
            seconds, cpu, rss, code = measure(cli)
            if code != 0:
                raise SystemExit(f"{cli[2]} failed with exit code {code}")
            rows.append((corpus, metrics, seconds, cpu, rss, load))
            print(f"  {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MiB", file=sys.stderr)
    if only:
        merge_rows(args.out, rows, args.bootstrap, sorted(only))
        return
    lines = [
        "# `toolkit evaluate` at scale",
        "",
        (f"Measured {dt.date.today().isoformat()} with `benchmarks/evaluation_scale.py` on {cpu_model()} "
         f"({os.cpu_count()} logical CPUs visible, shared with other work), Python {platform.python_version()}. "
         "Each row is one process, from start to exit (imports, reading JSONL, alignment, metrics, "
         f"{args.bootstrap} bootstrap resamples and, with a baseline, {args.bootstrap} randomization trials, writing "
         "scores.json/csv/md). Synthetic seeded texts of 8–30 words per segment (20–60 in the last row); peak RSS is the ru_maxrss of the "
         "process and the worker processes it waited for (os.wait4). The load average (1 minute) shows how busy "
         "the machine was with other work when the row started: wall times above a load of about the CPU count "
         "are stretched by sharing. CPU time (user + system, of the process and its worker processes) is the "
         "steadier figure on a shared machine; with workers, wall time can be below it."),
        "",
    ]
    lines += markdown_table(["corpus", "command and metrics", "wall time (s)", "CPU time (s)", "peak RSS (MiB)",
                             "load average at start"],
                            [[c, m, f"{s:.1f}", f"{u:.1f}", f"{r:.0f}", f"{load:.1f}"] for c, m, s, u, r, load in rows],
                            [False, False, True, True, True, True])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def merge_rows(out: Path, rows: list[tuple[str, str, float, float, float, float]], bootstrap: int,
               numbers: list[int]) -> None:
    """``rows`` put into the table of ``out`` (same corpus and command: replaced, else appended),
    and a note under the table saying when, where and at which commit they were measured."""
    lines = out.read_text(encoding="utf-8").splitlines()
    table_end = max(i for i, line in enumerate(lines) if line.startswith("|")) + 1
    for corpus, metrics, seconds, cpu, rss, load in rows:
        row = f"| {corpus} | {metrics} | {seconds:.1f} | {cpu:.1f} | {rss:.0f} | {load:.1f} |"
        same = [i for i, line in enumerate(lines[:table_end]) if line.startswith(f"| {corpus} | {metrics} |")]
        if same:
            lines[same[0]] = row
        else:
            lines.insert(table_end, row)
            table_end += 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    note = (f"Row{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))} of the script measured "
            f"{dt.date.today().isoformat()} on {cpu_model()} ({os.cpu_count()} logical CPUs, shared), Python "
            f"{platform.python_version()}, commit {commit.strip() or 'unknown'}, {bootstrap} resamples: "
            f"`python benchmarks/evaluation_scale.py --rows {','.join(map(str, numbers))}`; the other rows are "
            "from the date above.")
    lines[table_end:table_end] = ["", note]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"merged into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
