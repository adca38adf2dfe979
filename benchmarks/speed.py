"""Speed benchmark: plain transformers vs toolkit (torch) vs toolkit (ct2) vs CTranslate2 directly.

    python benchmarks/speed.py [--task translation|summarization|all] [--out DIR] [--quick]

Models have the architectures of Helsinki-NLP/opus-mt-fr-en (MarianMT, d_model 512, 6+6 layers,
8 heads, FFN 2048) and sshleifer/distilbart-cnn-12-6 (BART, d_model 1024, 12+6 layers, 16 heads,
FFN 4096) with random weights, since no weights can be downloaded here. Inputs are the seed
articles (French sentences for translation; the English reference translation, whole articles,
for summarisation). Every segment generates exactly ``--tokens`` tokens (min = max), so random
weights cannot bias output lengths. Each system runs in its own process, after a warm-up, so its
peak memory is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit.benchmark.measure import peak_rss_mb, percentile

REPO = Path(__file__).resolve().parents[1]
SHARED_TOKENIZER = REPO.parent / "shared" / "models" / "opus-mt-tc-big-fr-en-tokenizer"
SYSTEMS = ("transformers", "toolkit-torch", "toolkit-ct2", "ctranslate2")
LABELS = {
    "transformers": "plain transformers (model-card usage)",
    "toolkit-torch": "toolkit, torch backend",
    "toolkit-ct2": "toolkit, ct2 backend",
    "ctranslate2": "CTranslate2 translate_batch directly",
}


# --------------------------------------------------------------------------- inputs and models

def translation_documents() -> list[list[str]]:
    from toolkit.text.segment import segment_document

    return [[s for _, _, s in segment_document(p.read_text(encoding="utf-8"), "fr").sentences]
            for p in sorted((REPO / "seeds").glob("*.txt"))]


def summarization_documents() -> list[list[str]]:
    rows = [json.loads(line) for line in (REPO / "evaluation/references/translations.fr-en.jsonl").read_text().splitlines()]
    docs: dict[str, list[str]] = {}
    for row in rows:
        docs.setdefault(row["doc_id"], []).append(row["reference"])
    return [[" ".join(sentences)] for sentences in docs.values()]  # one segment: the whole article


def build_model(task: str, root: Path, quick: bool) -> Path:
    from toolkit.models.random import ENGLISH_SAMPLE, build_bart, build_marian, build_marian_from_tokenizer

    seeds = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    if task == "translation":
        dims = dict(d_model=64, layers=2, heads=2, ffn=128) if quick else dict(d_model=512, layers=6, heads=8, ffn=2048)
        real = SHARED_TOKENIZER.is_dir()
        key = hashlib.sha256(json.dumps([task, dims, real]).encode()).hexdigest()[:10]
        path = root / f"marian-{key}"
        if not (path / "config.json").exists():
            if real:
                build_marian_from_tokenizer(path, SHARED_TOKENIZER, **dims)
            else:
                build_marian(path, seeds, ENGLISH_SAMPLE, vocab_size=8000, pad_vocab_to=59514, max_length=512,
                             num_beams=4, **dims)
        return path
    dims = dict(d_model=64, layers=2, decoder_layers=1, heads=2, ffn=128) if quick else \
        dict(d_model=1024, layers=12, decoder_layers=6, heads=16, ffn=4096)
    key = hashlib.sha256(json.dumps([task, dims]).encode()).hexdigest()[:10]
    path = root / f"bart-{key}"
    if not (path / "config.json").exists():
        english = [" ".join(d) for d in summarization_documents()]
        build_bart(path, english + seeds, vocab_size=8000, pad_vocab_to=50264, max_positions=1024, max_length=142,
                   min_length=56, num_beams=4, **dims)
    return path


# --------------------------------------------------------------------------- one system, in its own process

def _run_plain(model_dir: Path, docs: list[list[str]], tokens: int, beams: int, threads: int) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)

    def run(doc: list[str]) -> int:
        inputs = tokenizer(doc, padding=True, return_tensors="pt")
        output = model.generate(**inputs, num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens)
        return int((output != tokenizer.pad_token_id).sum()) - (0 if model.config.decoder_start_token_id == tokenizer.pad_token_id else len(doc))

    return run, None


def _run_toolkit(model_dir: Path, docs: list[list[str]], tokens: int, beams: int, threads: int, backend: str,
                 task: str) -> tuple[Any, Any]:
    from toolkit.engines.loader import load_engine
    from toolkit.options import EngineOptions, GenerationOptions

    engine = load_engine(str(model_dir), task,
                         EngineOptions(device="cpu", backend=backend, threads=threads,
                                       quantization="int8" if backend == "ct2" else None),
                         GenerationOptions(num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens))
    if task == "translation":
        from toolkit.io.documents import Document
        from toolkit.tasks.translate import Translator

        translator = Translator(engine, "fr", "en")

        def run(doc: list[str]) -> int:
            result = translator.translate_document(Document(id="d", text="\n".join(doc), source="bench"))
            return result.output_tokens
    else:
        def run(doc: list[str]) -> int:
            return sum(g.output_tokens for g in engine.generate(doc))
    return run, engine


def _run_ct2_direct(model_dir: Path, docs: list[list[str]], tokens: int, beams: int, threads: int) -> tuple[Any, Any]:
    import ctranslate2

    from toolkit.engines import ct2
    from toolkit.engines.loader import load_tokenizer
    from toolkit.models.hub import resolve_model

    ref = resolve_model(str(model_dir))
    path, _ = ct2.convert(ref, "int8")
    tokenizer = load_tokenizer(ref)  # the model's tokenizer class, as the toolkit loads it
    translator = ctranslate2.Translator(str(path), device="cpu", compute_type="int8", intra_threads=threads)
    prefix = [tokenizer.bos_token] if "bart" in path.name or "bart" in str(model_dir) else None

    def run(doc: list[str]) -> int:
        batch = [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(doc)["input_ids"]]
        results = translator.translate_batch(batch, beam_size=beams, min_decoding_length=tokens,
                                             max_decoding_length=tokens, max_input_length=0,
                                             target_prefix=[prefix] * len(batch) if prefix else None)
        return sum(len(r.hypotheses[0]) for r in results)

    return run, None


def worker(system: str, task: str, model_dir: Path, tokens: int, beams: int, threads: int, repeats: int) -> dict[str, Any]:
    docs = translation_documents() if task == "translation" else summarization_documents()
    baseline = peak_rss_mb()  # the interpreter and toolkit's own modules; libraries load with the model
    start = time.perf_counter()
    if system == "transformers":
        run, _ = _run_plain(model_dir, docs, tokens, beams, threads)
    elif system == "ctranslate2":
        run, _ = _run_ct2_direct(model_dir, docs, tokens, beams, threads)
    else:
        run, _ = _run_toolkit(model_dir, docs, tokens, beams, threads, system.split("-")[1], task)
    load_seconds = time.perf_counter() - start
    after_load = peak_rss_mb()
    import sys as _sys

    torch_loaded = "torch" in _sys.modules
    run(docs[0])  # warm-up
    latencies: list[float] = []
    generated = 0
    for _ in range(repeats):
        for doc in docs:
            t0 = time.perf_counter()
            generated += run(doc)
            latencies.append(time.perf_counter() - t0)
    total = sum(latencies)
    return {"system": system, "task": task, "load_seconds": load_seconds, "documents": len(docs),
            "segments": sum(len(d) for d in docs), "repeats": repeats, "generated_tokens": generated,
            "seconds": total, "tokens_per_second": generated / total, "p50_latency": percentile(latencies, 50),
            "p95_latency": percentile(latencies, 95), "peak_rss_mb": peak_rss_mb(), "rss_after_load_mb": after_load,
            "startup_rss_mb": baseline, "model_memory_mb": peak_rss_mb() - baseline, "imports_torch": torch_loaded}


# --------------------------------------------------------------------------- driver and report

def source_tokens(task: str, model_dir: Path) -> tuple[int, int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    docs = translation_documents() if task == "translation" else summarization_documents()
    counts = [len(tokenizer(s)["input_ids"]) for d in docs for s in d]
    return sum(counts), max(counts)


def machine() -> dict[str, Any]:
    from toolkit.io.runs import environment

    env = environment()
    return {"processor": env["processor"], "cores": os.cpu_count(), "python": env["python"],
            "platform": platform.platform(), "packages": env["packages"]}


def _run_worker(system: str, task: str, model_dir: Path, tokens: int, beams: int, threads: int,
                repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", system, task, str(model_dir),
           str(tokens), str(beams), str(threads), str(repeats)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"system": system, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput, with every round's figures kept beside it."""
    ordered = sorted(runs, key=lambda r: r["tokens_per_second"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds"] = [{k: r[k] for k in ("tokens_per_second", "p50_latency", "peak_rss_mb")} for r in runs]
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    chosen["model_memory_mb"] = max(r["model_memory_mb"] for r in runs)
    return chosen


def run_task(task: str, root: Path, tokens: int, beams: int, threads: int, repeats: int, quick: bool,
             rounds: int = 3) -> dict[str, Any]:
    """Each round runs every system once, in a rotated order, so that a slow patch of a shared
    machine does not fall on one system; each system reports its median round."""
    model_dir = build_model(task, root / "models", quick)
    # Convert once up front, so no system's timing or memory includes the conversion.
    from toolkit.engines import ct2
    from toolkit.models.hub import resolve_model

    ct2.convert(resolve_model(str(model_dir)), "int8")
    runs: dict[str, list[dict[str, Any]]] = {system: [] for system in SYSTEMS}
    errors: dict[str, dict[str, Any]] = {}
    for round_index in range(rounds):
        order = SYSTEMS[round_index % len(SYSTEMS):] + SYSTEMS[:round_index % len(SYSTEMS)]
        for system in order:
            if system in errors:
                continue
            print(f"[speed] {task}, round {round_index + 1}/{rounds}: {system} …", file=sys.stderr, flush=True)
            result = _run_worker(system, task, model_dir, tokens, beams, threads, repeats)
            if "error" in result:
                errors[system] = result
            else:
                runs[system].append(result)
    results = [errors[s] if s in errors else _median_run(runs[s]) for s in SYSTEMS]
    base = next((r for r in results if r["system"] == "transformers" and "error" not in r), None)
    for r in results:
        if base and "error" not in r:
            r["speedup"] = r["tokens_per_second"] / base["tokens_per_second"]
            r["memory_ratio"] = r["peak_rss_mb"] / base["peak_rss_mb"]
            r["model_memory_ratio"] = r["model_memory_mb"] / base["model_memory_mb"]
    total, longest = source_tokens(task, model_dir)
    return {"task": task, "model_dir": str(model_dir), "tokens_per_segment": tokens, "beams": beams, "threads": threads,
            "rounds": rounds, "source_tokens": total, "longest_segment_tokens": longest, "results": results}


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"Machine: {m['processor']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
             f"torch {m['packages'].get('torch')}, transformers {m['packages'].get('transformers')}, "
             f"CTranslate2 {m['packages'].get('ctranslate2')}. Threads: {report['threads']}.", ""]
    for task in report["tasks"]:
        lines += [f"**{task['task']}** — {task['beams']} beams, {task['tokens_per_segment']} generated tokens per segment, "
                  f"{task['source_tokens']} source tokens (longest segment {task['longest_segment_tokens']}), "
                  f"median of {task['rounds']} rounds (each: a fresh process per system, a warm-up, "
                  f"{task['results'][0].get('repeats', '?')} timed pass(es); system order rotated between rounds)", "",
                  "| system | generated tok/s | × transformers | p50 latency / doc (s) | peak RSS (MiB) | vs transformers | "
                  "peak − start-up (MiB) | vs transformers | load (s) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in task["results"]:
            if "error" in r:
                lines.append(f"| {LABELS[r['system']]} | failed: {r['error']} | | | | | | | |")
                continue
            lines.append(f"| {LABELS[r['system']]} | {r['tokens_per_second']:.1f} | {r.get('speedup', 1):.2f}× | "
                         f"{r['p50_latency']:.2f} | {r['peak_rss_mb']:.0f} | {100 * r.get('memory_ratio', 1):.0f}% | "
                         f"{r['model_memory_mb']:.0f} | {100 * r.get('model_memory_ratio', 1):.0f}% | {r['load_seconds']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        system, task, model_dir, tokens, beams, threads, repeats = argv[1:8]
        os.environ["HF_HUB_OFFLINE"] = "1"
        from toolkit.console import quiet_libraries

        quiet_libraries()
        print(json.dumps(worker(system, task, Path(model_dir), int(tokens), int(beams), int(threads), int(repeats))))
        return
    parser = argparse.ArgumentParser(prog="python benchmarks/speed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["translation", "summarization", "all"], default="all")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "speed")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all systems; each reports its median")
    parser.add_argument("--translation-tokens", type=int, default=40)
    parser.add_argument("--summary-tokens", type=int, default=96)
    parser.add_argument("--quick", action="store_true", help="tiny dimensions: checks the machinery in seconds")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from toolkit.console import quiet_libraries

    quiet_libraries()
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = ["translation", "summarization"] if args.task == "all" else [args.task]
    report = {"machine": machine(), "threads": args.threads, "quick": args.quick, "tasks": []}
    for task in tasks:
        tokens = args.translation_tokens if task == "translation" else args.summary_tokens
        report["tasks"].append(run_task(task, args.out, tokens, args.beams, args.threads, args.repeats, args.quick,
                                        args.rounds))
    from toolkit.io.documents import atomic_write_text

    atomic_write_text(args.out / "speed.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(args.out / "speed.md", markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
