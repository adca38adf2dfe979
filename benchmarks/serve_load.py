"""Load benchmark of `toolkit serve`: dynamic batching vs the same server with batching disabled.

    python benchmarks/serve_load.py                 # opus-mt-like MarianMT, about 6 minutes on 2 cores
    python benchmarks/serve_load.py --quick         # tiny model, short runs: checks the machinery

For each mode (``sequential``: ``--max-batch-size 1``; ``dynamic``: batches of up to
``--max-batch-size`` sentences; ``confidence``: dynamic, the server started with ``--confidence``;
``quality``: that, every request with ``"quality": true``) and each number of concurrent clients
(1, 8, 32, 128), a fresh
``toolkit serve`` process is started on 127.0.0.1 (only), warmed up, and loaded for ``--seconds``
by that many clients, each sending one seed sentence per request (French → English) as soon as
its previous answer arrives. Requests still in flight at the deadline are awaited and counted.
Measured: requests/s and output tokens/s (from the server's own /metrics), p50/p99 latency, the
server's peak resident memory (VmHWM), and errors (any answer but 200, or no answer).

The model: MarianMT with random weights at opus-mt-fr-en's dimensions (d_model 512, 6+6 layers,
8 heads, FFN 2048, 59,514-token vocabulary around a SentencePiece model trained on the seeds),
4 beams, at most 40 generated tokens, built by toolkit.models.random.build_marian; ``--tiny``
uses the tests' 32-dimension model instead. Random weights rarely stop early, so every sentence
generates close to the limit, on both modes alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from toolkit.io.runs import cpu_model
from toolkit.io.tables import markdown_table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLIENTS = (1, 8, 32, 128)
HOST = "127.0.0.1"  # never anything but loopback



def seed_sentences() -> list[str]:
    from toolkit.text.segment import segment_document

    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    return [s for text in texts for _, _, s in segment_document(text, "fr").sentences]


def build_model(folder: Path, tiny: bool) -> Path:
    from toolkit.models.random import build_marian

    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    name = "tiny-marian" if tiny else "opus-mt-like-marian"
    path = folder / name
    if (path / "config.json").is_file():
        return path
    if tiny:
        return build_marian(path, texts)
    return build_marian(path, texts, d_model=512, layers=6, heads=8, ffn=2048, vocab_size=2000,
                        pad_vocab_to=59514, max_length=40, num_beams=4)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def output_tokens(metrics: str) -> float:
    match = re.search(r'toolkit_serve_tokens_total\{kind="output",model="translation:fr-en"\} (\S+)', metrics)
    return float(match.group(1)) if match else 0.0


async def load(url: str, sentences: list[str], clients: int, seconds: float, drain: float, timeout: float,
               max_requests: int, extra: dict | None = None, distinct: bool = False) -> dict:
    """``clients`` loops of request → answer → request for ``seconds`` (at most ``max_requests``
    requests in all); then the requests still in flight get ``drain`` seconds to finish (those
    that do not are cut off and reported)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = 0
    last_answer = 0.0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as session:
        tokens_before = output_tokens((await session.get("/metrics")).text)
        start = time.perf_counter()
        deadline = start + seconds

        async def client() -> None:
            nonlocal errors, counter, last_answer
            while time.perf_counter() < deadline and counter < max_requests:
                sentence = sentences[counter % len(sentences)]
                if distinct:  # never the same text twice: the server's deduplication serves repeats unread
                    sentence = f"{sentence} (n° {counter})"
                counter += 1
                sent = time.perf_counter()
                try:
                    response = await session.post("/translate", json={"q": sentence, "source": "fr", "target": "en",
                                                                      **(extra or {})})
                    ok = response.status_code == 200 and isinstance(response.json().get("translatedText"), str)
                except httpx.HTTPError:
                    ok = False
                last_answer = time.perf_counter()
                if ok:
                    latencies.append(last_answer - sent)
                else:
                    errors += 1

        tasks = [asyncio.create_task(client()) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=seconds + drain)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # Stopped by the request cap: the run ended with its last answer, not at the deadline.
        elapsed = (last_answer if counter >= max_requests else max(last_answer, deadline)) - start
        tokens = output_tokens((await session.get("/metrics")).text) - tokens_before
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {"requests": len(latencies), "errors": errors, "cut_off": len(pending), "seconds": elapsed,
            "requests_per_s": len(latencies) / elapsed, "tokens_per_s": tokens / elapsed,
            "p50_s": statistics.median(latencies) if latencies else float("nan"), "p99_s": quantile(0.99)}


def run_one(model: Path, mode: str, clients: int, args: argparse.Namespace, sentences: list[str]) -> dict:
    import httpx

    port = free_port()
    url = f"http://{HOST}:{port}"
    batch = "1" if mode == "sequential" else str(args.max_batch_size)
    command = [str(Path(sys.executable).with_name("toolkit")), "serve", "--host", HOST, "--port", str(port),
               "--translator", f"fr-en={model}", "--preload", "--max-batch-size", batch,
               "--max-wait-ms", str(args.max_wait_ms), "--char-limit", "0", "--max-queue", "100000"]
    if args.backend:
        command += ["--backend", args.backend]
    if mode in ("confidence", "quality"):
        command += ["--confidence"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with code {server.returncode}: {' '.join(command)}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 5 minutes")
            time.sleep(0.2)
        extra = {"quality": True} if mode == "quality" else {}
        for sentence in sentences[:2]:  # warm-up: first-call costs (the language identifier too) are not throughput
            httpx.post(f"{url}/translate", json={"q": sentence, "source": "fr", "target": "en", **extra}, timeout=120)
        result = asyncio.run(load(url, sentences, clients, args.seconds, args.drain, args.timeout,
                                  args.max_requests, extra, args.distinct))
        result["peak_rss_mib"] = peak_rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"mode": mode, "clients": clients, "max_batch_size": int(batch), **result}


def table(rows: list[dict]) -> str:
    head = ["mode", "clients", "requests", "req/s", "output tok/s", "p50 latency (s)", "p99 latency (s)",
            "peak RSS (MiB)", "errors", "cut off", "× sequential (req/s)", "× dynamic (req/s)"]
    sequential = {r["clients"]: r["requests_per_s"] for r in rows if r["mode"] == "sequential"}
    dynamic = {r["clients"]: r["requests_per_s"] for r in rows if r["mode"] == "dynamic"}
    cells = []
    for r in rows:
        ratios = [f"{r['requests_per_s'] / base:.2f}×" if base else "—"
                  for base in (sequential.get(r["clients"]), dynamic.get(r["clients"]))]
        cells.append([f"{r['mode']} (max batch {r['max_batch_size']})", r["clients"], r["requests"],
                      f"{r['requests_per_s']:.2f}", f"{r['tokens_per_s']:.0f}", f"{r['p50_s']:.2f}", f"{r['p99_s']:.2f}",
                      f"{r['peak_rss_mib']:.0f}", r["errors"], r["cut_off"], *ratios])
    return "\n".join(markdown_table(head, cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration per run")
    parser.add_argument("--drain", type=float, default=60.0, help="time for requests in flight after the load")
    parser.add_argument("--max-requests", type=int, default=5000, help="most requests per run")
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)), help="comma-separated client counts")
    parser.add_argument("--max-batch-size", type=int, default=64, help="dynamic mode's largest batch")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="dynamic mode's batching wait")
    parser.add_argument("--backend", choices=["auto", "torch", "ct2"], default=None)
    parser.add_argument("--timeout", type=float, default=300.0, help="per-request timeout (s)")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny model instead of opus-mt dimensions")
    parser.add_argument("--quick", action="store_true", help="tiny model, 3 s per run, 1 and 8 clients")
    parser.add_argument("--out", type=Path, default=None, help="write the report (.md) and results (.json) here")
    parser.add_argument("--distinct", action="store_true",
                        help="make every request's text unique (the 25 seed sentences repeat, and the server's "
                             "deduplication answers a repeat without decoding it)")
    parser.add_argument("--modes", default="sequential,dynamic",
                        help="comma-separated: sequential, dynamic, confidence (--confidence), quality (and "
                             '"quality": true in every request)')
    args = parser.parse_args()
    modes = args.modes.split(",")
    if set(modes) - {"sequential", "dynamic", "confidence", "quality"}:
        parser.error(f"--modes {args.modes}: expected sequential, dynamic, confidence or quality")
    if args.quick:
        args.tiny, args.seconds, args.drain, args.clients = True, 3.0, 10.0, "1,8"
    work = REPO / "outputs" / "benchmarks" / "serve-load"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOOLKIT_CACHE", str(work / "toolkit-cache"))  # the converted model, kept for re-runs
    model = build_model(work, args.tiny)
    sentences = seed_sentences()
    # Convert (and cache) the CTranslate2 model here, so no server's peak memory includes a conversion.
    from toolkit.tasks.translate import Translator

    Translator.from_pretrained(str(model), "fr", "en", backend=args.backend or "auto").translate(sentences[:1])
    rows = []
    for clients in [int(c) for c in args.clients.split(",")]:
        for mode in modes:
            row = run_one(model, mode, clients, args, sentences)
            rows.append(row)
            print(f"{mode:10s} clients={clients:3d} req/s={row['requests_per_s']:.2f} tok/s={row['tokens_per_s']:.0f} "
                  f"p50={row['p50_s']:.2f}s p99={row['p99_s']:.2f}s rss={row['peak_rss_mib']:.0f}MiB "
                  f"errors={row['errors']} cut_off={row['cut_off']}", file=sys.stderr, flush=True)
    import ctranslate2

    import toolkit

    machine = (f"{cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}, "
               f"CTranslate2 {ctranslate2.__version__}, toolkit {toolkit.__version__}")
    model_text = ("the tests' tiny MarianMT (d_model 32, 1+1 layers)" if args.tiny else
                  "MarianMT at opus-mt-fr-en's dimensions (d_model 512, 6+6 layers, 8 heads, FFN 2048, 59,514-token "
                  "vocabulary), random weights")
    head = (f"Machine: {machine}.\n\nModel: {model_text}; 4 beams, at most 40 generated tokens; backend "
            f"{args.backend or 'auto (CTranslate2 int8 on CPU)'}. Each request: one of the {len(sentences)} seed "
            f"sentences, French → English. {args.seconds:.0f} s of load per run (then up to {args.drain:.0f} s "
            f"for the "
            f"requests in flight; those still unanswered are *cut off*), a fresh server per run; dynamic "
            f"batching: at most {args.max_batch_size} sentences per batch, {args.max_wait_ms:g} ms wait.")
    report = f"{head}\n\n{table(rows)}\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(report, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps({"machine": machine, "model": model_text,
                                                             "settings": vars(args) | {"out": str(args.out)},
                                                             "rows": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
