"""`POST /translate_file` under a small-request load: how long a 50-page .docx takes through the
server, and what it does to the latency of small `/translate` requests sent while it runs.

    python benchmarks/serve_files.py [--pages 50] [--backend ct2|torch] [--out DIR]

Loopback only (a server in this process on a free 127.0.0.1 port); every loop is bounded in
count and time. Without --model, the tests' tiny random-weight MarianMT (the document path and
the batcher are measured, not a real model). The docx is benchmarks/documents_docx.py's.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMALL = "Le gouvernement a présenté mercredi un nouveau projet de loi sur le logement."
MAX_SMALL_REQUESTS = 400
MAX_SECONDS = 900.0


def main() -> None:
    import httpx

    sys.path.insert(0, str(REPO / "benchmarks"))
    from documents_docx import build_docx

    from toolkit.models.random import build_marian
    from toolkit.serve.app import create_app
    from toolkit.serve.server import make_server, uvicorn_config
    from toolkit.serve.settings import ServeSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--backend", default="ct2")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench-serve-files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model is None:
        model = args.out / "tiny-marian"
        if not (model / "config.json").exists():
            build_marian(model, [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))])
    data = build_docx(args.pages)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ServeSettings(port=port, translators={"fr-en": str(model)}, backend=args.backend, device="cpu",
                             preload=True, file_size_limit=50_000_000, file_char_limit=0)
    server = make_server(uvicorn_config(create_app(settings), settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ask = {"q": SMALL, "source": "fr", "target": "en"}
    try:
        with httpx.Client(base_url=base, timeout=MAX_SECONDS) as client:
            for _ in range(3):  # warm up
                client.post("/translate", json=ask).raise_for_status()
            idle = []
            for _ in range(20):
                start = time.perf_counter()
                client.post("/translate", json=ask).raise_for_status()
                idle.append(time.perf_counter() - start)
            result: dict[str, float] = {}

            def upload() -> None:
                start = time.perf_counter()
                answer = httpx.post(f"{base}/translate_file", files={"file": ("fifty.docx", data)},
                                    data={"source": "fr", "target": "en"}, timeout=MAX_SECONDS)
                answer.raise_for_status()
                result["file_seconds"] = time.perf_counter() - start
                got = httpx.get(answer.json()["translatedFileUrl"], timeout=60)
                got.raise_for_status()
                result["output_bytes"] = len(got.content)

            uploader = threading.Thread(target=upload)
            uploader.start()
            time.sleep(1.0)  # the file is read and its first blocks are queued
            busy = []
            stop = time.monotonic() + MAX_SECONDS
            while uploader.is_alive() and len(busy) < MAX_SMALL_REQUESTS and time.monotonic() < stop:
                start = time.perf_counter()
                client.post("/translate", json=ask).raise_for_status()
                busy.append(time.perf_counter() - start)
            uploader.join(MAX_SECONDS)
    finally:
        server.should_exit = True
        thread.join(60)
    print(json.dumps({
        "pages": args.pages, "input_bytes": len(data), "backend": args.backend, "model": str(model),
        "file_seconds": round(result.get("file_seconds", float("nan")), 2), "output_bytes": result.get("output_bytes"),
        "idle_small_ms": {"median": round(statistics.median(idle) * 1000, 1), "max": round(max(idle) * 1000, 1)},
        "small_during_file_ms": {"n": len(busy), "median": round(statistics.median(busy) * 1000, 1) if busy else None,
                                 "p95": round(sorted(busy)[int(0.95 * (len(busy) - 1))] * 1000, 1) if busy else None,
                                 "max": round(max(busy) * 1000, 1) if busy else None},
    }, indent=2))


if __name__ == "__main__":
    main()
