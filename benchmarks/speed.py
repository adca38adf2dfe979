"""Speed benchmark: plain transformers vs toolkit (torch) vs toolkit (ct2) vs CTranslate2 directly.

    python benchmarks/speed.py [--task translation|summarization|all] [--out DIR] [--quick]
    python benchmarks/speed.py --startup-only [--startup-repeats N]   # start-up figures alone

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
SYSTEMS = ("transformers", "toolkit-torch", "toolkit-torch-auto", "toolkit-torch-int8", "toolkit-ct2",
           "toolkit-ct2-intra", "ctranslate2")
LABELS = {
    "transformers": "plain transformers (model-card usage, fp32)",
    "toolkit-torch": "toolkit, torch backend, --dtype float32",
    "toolkit-torch-auto": "toolkit, torch backend, --dtype auto",
    "toolkit-torch-int8": "toolkit, torch backend, --quantization int8",
    "toolkit-ct2": "toolkit, ct2 backend (int8)",
    "toolkit-ct2-intra": "toolkit, ct2, earlier thread layout (1 replica × N threads)",
    "ctranslate2": "CTranslate2 translate_batch directly (1 replica × N threads)",
}
# Outputs compared with those of the toolkit's torch float32 run (same model, same inputs).
AGREEMENT = ("toolkit-torch-auto", "toolkit-torch-int8", "toolkit-ct2")


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

    def run(doc: list[str]) -> tuple[int, list[str]]:
        inputs = tokenizer(doc, padding=True, return_tensors="pt")
        output = model.generate(**inputs, num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens)
        generated = int((output != tokenizer.pad_token_id).sum()) - (0 if model.config.decoder_start_token_id == tokenizer.pad_token_id else len(doc))
        return generated, tokenizer.batch_decode(output, skip_special_tokens=True)

    return _per_document(run), None


def _run_toolkit(model_dir: Path, docs: list[list[str]], tokens: int, beams: int, threads: int, variant: str,
                 task: str) -> tuple[Any, Any]:
    """The toolkit as the CLI runs it: every document of the set in one call (sentences of all
    documents share length-sorted batches); a document's latency is the call's time apportioned
    by its share of the source tokens, as the manifest gives it."""
    from toolkit.engines.loader import load_engine
    from toolkit.options import EngineOptions, GenerationOptions

    backend = "ct2" if variant.startswith("ct2") else "torch"
    # The engine's speed, honestly: every sentence decoded (no deduplication, no memory, #29).
    options = {"device": "cpu", "backend": backend, "threads": threads, "dtype": "float32", "dedupe": False}
    if backend == "ct2":
        options["quantization"] = "int8"
    elif variant == "torch-auto":
        options["dtype"] = "auto"
    elif variant == "torch-int8":
        options["quantization"] = "int8"
    if variant == "ct2-intra":
        os.environ["TOOLKIT_CT2_LAYOUT"] = "intra"
    engine = load_engine(str(model_dir), task, EngineOptions(**options),
                         GenerationOptions(num_beams=beams, min_new_tokens=tokens, max_new_tokens=tokens))
    if task == "translation":
        from toolkit.io.documents import Document
        from toolkit.tasks.translate import Translator

        translator = Translator.from_engine(engine, "fr", "en")

        def run(batch: list[list[str]]) -> list[tuple[float, int, list[str]]]:
            results = translator.translate_batch([Document(id=f"d{i}", text="\n".join(doc), source="bench")
                                                  for i, doc in enumerate(batch)])
            return [(r.seconds, r.output_tokens, [s.output for s in r.segments]) for r in results]
    else:
        def run(batch: list[list[str]]) -> list[tuple[float, int, list[str]]]:
            flat = [s for doc in batch for s in doc]
            t0 = time.perf_counter()
            generated = engine.generate(flat)
            elapsed = time.perf_counter() - t0
            total = sum(g.source_tokens for g in generated) or 1
            out, i = [], 0
            for doc in batch:
                part = generated[i:i + len(doc)]
                i += len(doc)
                out.append((elapsed * sum(g.source_tokens for g in part) / total, sum(g.output_tokens for g in part),
                            [g.text for g in part]))
            return out
    return run, engine


def _per_document(run_one: Any) -> Any:
    """A one-document-per-call system as a batch runner: each document timed on its own."""
    def run(batch: list[list[str]]) -> list[tuple[float, int, list[str]]]:
        out = []
        for doc in batch:
            t0 = time.perf_counter()
            generated, texts = run_one(doc)
            out.append((time.perf_counter() - t0, generated, texts))
        return out
    return run


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

    def run(doc: list[str]) -> tuple[int, list[str]]:
        batch = [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(doc)["input_ids"]]
        results = translator.translate_batch(batch, beam_size=beams, min_decoding_length=tokens,
                                             max_decoding_length=tokens, max_input_length=0,
                                             target_prefix=[prefix] * len(batch) if prefix else None)
        return sum(len(r.hypotheses[0]) for r in results), [" ".join(r.hypotheses[0]) for r in results]

    return _per_document(run), None


def _libraries(system: str, task: str) -> list[str]:
    """What each system imports to load its model: the toolkit's ct2 backend reads a Marian
    tokenizer with sentencepiece alone (BART's still comes from transformers)."""
    if system.startswith("toolkit-ct2"):
        return ["ctranslate2", "sentencepiece" if task == "translation" else "transformers"]
    if system == "ctranslate2":
        return ["ctranslate2", "transformers"]
    return ["torch", "transformers"]


def worker(system: str, task: str, model_dir: Path, tokens: int, beams: int, threads: int, repeats: int) -> dict[str, Any]:
    docs = translation_documents() if task == "translation" else summarization_documents()
    baseline = peak_rss_mb()  # the interpreter and toolkit's own modules; libraries load with the model
    start = time.perf_counter()
    # The libraries each system imports anyway while loading, imported first to time them.
    import importlib

    for name in _libraries(system, task):
        importlib.import_module(name)
    import_seconds = time.perf_counter() - start
    if system == "transformers":
        run, _ = _run_plain(model_dir, docs, tokens, beams, threads)
    elif system == "ctranslate2":
        run, _ = _run_ct2_direct(model_dir, docs, tokens, beams, threads)
    else:
        run, _ = _run_toolkit(model_dir, docs, tokens, beams, threads, system.split("-", 1)[1], task)
    load_seconds = time.perf_counter() - start
    after_load = peak_rss_mb()
    import sys as _sys

    torch_loaded = "torch" in _sys.modules
    run(docs[:1])  # warm-up
    latencies: list[float] = []
    generated = 0
    outputs: list[list[str]] = []
    wall = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        results = run(docs)
        wall += time.perf_counter() - t0
        outputs = [texts for _, _, texts in results]
        for seconds, tokens_out, _ in results:
            generated += tokens_out
            latencies.append(seconds)
    return {"system": system, "task": task, "load_seconds": load_seconds, "documents": len(docs),
            "segments": sum(len(d) for d in docs), "repeats": repeats, "generated_tokens": generated,
            "seconds": wall, "tokens_per_second": generated / wall, "p50_latency": percentile(latencies, 50),
            "p95_latency": percentile(latencies, 95), "peak_rss_mb": peak_rss_mb(), "rss_after_load_mb": after_load,
            "startup_rss_mb": baseline, "model_memory_mb": peak_rss_mb() - baseline, "imports_torch": torch_loaded,
            "import_seconds": import_seconds, "outputs": outputs}


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


def agreement(results: list[dict[str, Any]]) -> None:
    """Exact-match rate and chrF of each AGREEMENT system's segment outputs against the toolkit's
    torch float32 outputs: what lower precision changes, on the same model and inputs."""
    import sacrebleu

    by_name = {r["system"]: r for r in results if "error" not in r}
    reference = by_name.get("toolkit-torch", {}).get("outputs")
    for r in results:
        outputs = r.pop("outputs", None)
        if reference is None or outputs is None or r["system"] not in AGREEMENT:
            continue
        refs = [s for doc in reference for s in doc]
        hyps = [s for doc in outputs for s in doc]
        r["agreement"] = {"segments": len(refs), "exact_match": sum(a == b for a, b in zip(hyps, refs)) / len(refs),
                          "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score}
    by_name.get("toolkit-torch", {}).pop("outputs", None)


# Where a cached ct2 run spends its time before the first batch: the probe stamps the end of each
# stage (seconds since the Unix epoch, comparable with the parent's clock).
STAGES = ("imports", "language detected", "tokenizer loaded", "ct2 model loaded", "first batch")
_PROBE = """
import sys, time
def stamp(stage):
    print('STAGE', stage.replace(' ', '_'), time.time(), file=sys.stderr, flush=True)
from toolkit.engines import ct2, loader
from toolkit.text import detect
def after(owner, name, stage):
    original = getattr(owner, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        stamp(stage)
        return result
    setattr(owner, name, wrapped)
after(detect, 'detect', 'language detected')
after(loader, 'load_tokenizer', 'tokenizer loaded')
after(ct2.CT2Engine, '__init__', 'ct2 model loaded')
def first(self, batches):
    stamp('first batch')
    print('IMPORTED', *[m for m in ('torch', 'transformers', 'sacremoses') if m in sys.modules], file=sys.stderr)
    sys.exit(0)
ct2.CT2Engine.decode_batches = first
from toolkit.cli import main
stamp('imports')
sys.argv = ['toolkit'] + sys.argv[1:]
main()
"""


def _first_batch(args: list[str], env: dict[str, str], repeats: int) -> dict[str, Any]:
    """Median seconds from spawning the process to the end of each stage, over ``repeats`` launches."""
    import statistics

    runs: list[dict[str, float]] = []
    imported: list[str] = []
    for _ in range(repeats):
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, check=False)
        stamps = {}
        for line in proc.stderr.splitlines():
            if line.startswith("STAGE"):
                _, stage, when = line.split()
                stamps.setdefault(stage.replace("_", " "), float(when) - t0)
            elif line.startswith("IMPORTED"):
                imported = line.split()[1:]
        if "first batch" not in stamps:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no batch"}
        runs.append(stamps)
    return {"seconds": statistics.median(r["first batch"] for r in runs), "runs": [r["first batch"] for r in runs],
            "stages": {stage: statistics.median(r[stage] for r in runs) for stage in STAGES if all(stage in r for r in runs)},
            "imported": imported}


def startup(root: Path, repeats: int = 5, quick: bool = False) -> dict[str, Any]:
    """`toolkit --help`, and a cached ct2 translation of one short file up to its first batch:
    wall seconds from spawning the process (interpreter start-up included), median of ``repeats``;
    the translation as it runs by default (language detected) and with ``--src fr``."""
    import resource
    import statistics
    import tempfile

    toolkit = Path(sys.executable).parent / "toolkit"
    help_wall, help_cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([str(toolkit), "--help"], capture_output=True, check=True)
        help_wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        help_cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    model_dir = build_model("translation", root / "models", quick)
    from toolkit.engines import ct2
    from toolkit.models.hub import resolve_model

    ct2.convert(resolve_model(str(model_dir)), "int8")
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "short.txt"
        short.write_text("Le président a annoncé mardi une réforme des retraites.\n", encoding="utf-8")
        args = ["translate", str(short), "-m", str(model_dir), "--backend", "ct2", "--out", str(Path(tmp) / "out"),
                "--overwrite", "-q"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        _first_batch(args, env, 1)  # fills the toolkit's caches (language identifier, file hashes)
        detected = _first_batch(args, env, repeats)
        if "error" in detected:
            return detected
        given = _first_batch([*args, "--src", "fr"], env, repeats)
        # Where the time goes: the largest top-level imports (python -X importtime).
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROBE, *args], capture_output=True, text=True,
                              env=env, check=False)
    top: dict[str, float] = {}
    for row in proc.stderr.splitlines():
        if row.startswith("import time:") and row.count("|") == 2:
            _, cumulative, name = row.split("|")
            if not name.startswith("  ") and cumulative.strip().isdigit():
                top[name.strip()] = top.get(name.strip(), 0.0) + int(cumulative) / 1e6
    return {"repeats": repeats, "help_seconds": statistics.median(help_wall),
            "help_cpu_seconds": statistics.median(help_cpu), "help_runs": help_wall,
            "first_batch_seconds": detected["seconds"], "first_batch_runs": detected["runs"],
            "stages": detected["stages"], "first_batch_seconds_src_given": given.get("seconds"),
            "first_batch_runs_src_given": given.get("runs"),
            "imported_before_first_batch": {m: m in detected["imported"] for m in ("torch", "transformers", "sacremoses")},
            "import_seconds_total": sum(top.values()),
            "largest_imports": dict(sorted(top.items(), key=lambda kv: -kv[1])[:6])}


def run_task(task: str, root: Path, tokens: int, beams: int, threads: int, repeats: int, quick: bool,
             rounds: int = 3, systems: tuple[str, ...] = SYSTEMS) -> dict[str, Any]:
    """Each round runs every system once, in a rotated order, so that a slow patch of a shared
    machine does not fall on one system; each system reports its median round."""
    model_dir = build_model(task, root / "models", quick)
    # Convert once up front, so no system's timing or memory includes the conversion.
    from toolkit.engines import ct2
    from toolkit.models.hub import resolve_model

    ct2.convert(resolve_model(str(model_dir)), "int8")
    runs: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
    errors: dict[str, dict[str, Any]] = {}
    for round_index in range(rounds):
        order = systems[round_index % len(systems):] + systems[:round_index % len(systems)]
        for system in order:
            if system in errors:
                continue
            print(f"[speed] {task}, round {round_index + 1}/{rounds}: {system} …", file=sys.stderr, flush=True)
            result = _run_worker(system, task, model_dir, tokens, beams, threads, repeats)
            if "error" in result:
                errors[system] = result
            else:
                runs[system].append(result)
    results = [errors[s] if s in errors else _median_run(runs[s]) for s in systems]
    agreement(results)
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
             f"CTranslate2 {m['packages'].get('ctranslate2')}. Threads: {report['threads']}. "
             f"Load average (1 min) at start {report.get('load_start', '?')}, at end {report.get('load_end', '?')} "
             "(a shared machine: other work ran beside the benchmark).", ""]
    for task in report["tasks"]:
        lines += [f"**{task['task']}** — {task['beams']} beams, {task['tokens_per_segment']} generated tokens per segment, "
                  f"{task['source_tokens']} source tokens (longest segment {task['longest_segment_tokens']}), "
                  f"median of {task['rounds']} rounds (each: a fresh process per system, a warm-up, "
                  f"{task['results'][0].get('repeats', '?')} timed pass(es); system order rotated between rounds). "
                  "Plain transformers and CTranslate2-direct take one document per call; the toolkit takes the "
                  "whole set in one call, as the CLI does (latency per document apportioned by source tokens)", "",
                  "| system | generated tok/s | × transformers | rounds (tok/s) | p50 latency / doc (s) | peak RSS (MiB) | "
                  "vs transformers | import (s) | load (s) | agreement with torch fp32: exact / chrF |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in task["results"]:
            if "error" in r:
                lines.append(f"| {LABELS[r['system']]} | failed: {r['error']} | | | | | | | | |")
                continue
            rounds = ", ".join(f"{x['tokens_per_second']:.0f}" for x in r.get("rounds", []))
            agree = r.get("agreement")
            agree_text = f"{100 * agree['exact_match']:.0f}% / {agree['chrf']:.1f}" if agree else ""
            lines.append(f"| {LABELS[r['system']]} | {r['tokens_per_second']:.1f} | {r.get('speedup', 1):.2f}× | {rounds} | "
                         f"{r['p50_latency']:.2f} | {r['peak_rss_mb']:.0f} | {100 * r.get('memory_ratio', 1):.0f}% | "
                         f"{r.get('import_seconds', 0):.2f} | {r['load_seconds']:.1f} | {agree_text} |")
        lines.append("")
    st = report.get("startup")
    if st and "error" not in st:
        lines += startup_markdown(st)
    elif st:
        lines += [f"**start-up**: failed: {st['error']}", ""]
    return "\n".join(lines)


def startup_markdown(st: dict[str, Any]) -> list[str]:
    largest = ", ".join(f"{k} {v:.2f} s" for k, v in st["largest_imports"].items())
    imported = ", ".join(f"{m} {'yes' if yes else 'no'}" for m, yes in st["imported_before_first_batch"].items())
    stages, previous = [], 0.0
    for stage, when in st.get("stages", {}).items():
        stages.append(f"{stage} {when - previous:.2f} s")
        previous = when
    runs = ", ".join(f"{x:.2f}" for x in st["first_batch_runs"])
    given = st.get("first_batch_seconds_src_given")
    return [f"**start-up** (median of {st.get('repeats', 5)} process launches)", "",
            f"- `toolkit --help`: {st['help_seconds']:.2f} s wall, {st['help_cpu_seconds']:.2f} s CPU",
            f"- cached ct2 translation of a one-sentence file, process spawn → first batch: "
            f"{st['first_batch_seconds']:.2f} s (runs: {runs})"
            + (f"; with `--src fr` (no language detection): {given:.2f} s" if given is not None else ""),
            f"- by stage (medians, each from the end of the previous one): {'; '.join(stages)}",
            f"- imported by the first batch: {imported}; imports {st['import_seconds_total']:.2f} s in all "
            f"(`-X importtime`, which inflates them), largest: {largest}", ""]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        system, task, model_dir, tokens, beams, threads, repeats = argv[1:8]
        os.environ["HF_HUB_OFFLINE"] = "1"
        from toolkit.runtime import quiet_libraries

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
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the start-up measurements (startup.json, startup.md in --out)")
    parser.add_argument("--startup-repeats", type=int, default=5, help="process launches per start-up figure")
    args = parser.parse_args(argv)
    systems = tuple(s for s in SYSTEMS if s in args.systems.split(","))
    os.environ["HF_HUB_OFFLINE"] = "1"
    from toolkit.runtime import quiet_libraries

    quiet_libraries()
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = ["translation", "summarization"] if args.task == "all" else [args.task]
    report: dict[str, Any] = {"machine": machine(), "threads": args.threads, "quick": args.quick, "tasks": [],
                              "load_start": round(os.getloadavg()[0], 2)}
    for task in [] if args.startup_only else tasks:
        tokens = args.translation_tokens if task == "translation" else args.summary_tokens
        report["tasks"].append(run_task(task, args.out, tokens, args.beams, args.threads, args.repeats, args.quick,
                                        args.rounds, systems))
    if args.startup_only or not (args.quick or args.no_startup):
        report["startup"] = startup(args.out, args.startup_repeats, args.quick)
    report["load_end"] = round(os.getloadavg()[0], 2)
    from toolkit.io.documents import atomic_write_text

    name = "startup" if args.startup_only else "speed"
    atomic_write_text(args.out / f"{name}.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(args.out / f"{name}.md", markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
