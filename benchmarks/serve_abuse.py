"""Abuse benchmark of `toolkit serve` (issue #27, items 1, 2 and 6): loopback only, every loop
bounded in count and time, every process stopped at the end.

    python benchmarks/serve_abuse.py                       # opus-mt-like MarianMT (about 5 minutes on 2 cores)
    python benchmarks/serve_abuse.py --tiny --idle 2000    # the tests' tiny model, a quick check
    python benchmarks/serve_abuse.py --server-path DIR     # the same against another checkout's toolkit/

Scenarios, each on a fresh `toolkit serve` process on 127.0.0.1:

1. **Abandoned work.** A one-sentence request's idle latency (median of ``--probes``); then
   ``--abandon`` clients each send ``--large-sentences`` sentences and disconnect after
   ``--abandon-after`` seconds; then the one-sentence latency again (median), and the sentences
   still queued (from /metrics). Target: within 2x the idle latency.
2. **Idle and slow connections.** ``--idle`` connections opened and held without a request (by
   helper processes of 5,000 connections each: one process's descriptors are not enough),
   plus ``--slowloris`` connections sending a header byte every 2 s; meanwhile /health is
   probed. Measured: /health answered and its latency, how many idle connections the server
   closed, how long slowloris connections lived, the server's stderr growth. The benchmark
   raises its own soft open-file limit to the hard limit (and the server raises its own).
3. **Forged X-Forwarded-For.** ``--rate-limit`` per minute; 20 requests each claiming another
   address. Target: all but the first ``--rate-limit`` refused with 429.

Figures go to stdout as a Markdown table, and with ``--out`` to DIR/serve_abuse.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from serve_load import build_model, free_port  # noqa: E402  (the load benchmark's, not copies)

HOST = "127.0.0.1"  # never anything but loopback
PER_HELPER = 5000

_HOLDER = r"""
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks, failed = [], 0
started = time.monotonic()
for _ in range(count):  # opening is bounded too: at most 120 s
    if time.monotonic() - started > 120:
        break
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        socks.append(s)
    except OSError:
        failed += 1
print(len(socks), failed, round(time.monotonic() - started, 1), flush=True)
deadline = time.monotonic() + hold
while time.monotonic() < deadline:
    time.sleep(0.2)
closed = 0
for s in socks:
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(closed, flush=True)
"""


def raise_fd_limit() -> tuple[int, int]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, hard


class Server:
    """`toolkit serve` in a subprocess (stderr to a file, so its growth can be measured)."""

    def __init__(self, model: Path, args: argparse.Namespace, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.stderr = tempfile.NamedTemporaryFile(prefix="serve-abuse-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        if args.server_path:
            env["PYTHONPATH"] = str(args.server_path)
        command = [sys.executable, "-m", "toolkit", "serve", "--host", HOST, "--port", str(self.port),
                   "--translator", f"fr-en={model}", "--preload", *extra]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                        cwd=args.server_path or REPO)

    def __enter__(self) -> Server:
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with code {self.process.returncode}: "
                                 f"{Path(self.stderr.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not start within 5 minutes")

    def stderr_bytes(self) -> int:
        return Path(self.stderr.name).stat().st_size

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.stderr.close()
        os.unlink(self.stderr.name)


def one_sentence_latency(url: str, probes: int, timeout: float) -> tuple[float, float, int]:
    """Median and worst latency of ``probes`` sequential one-sentence requests, and how many failed."""
    import httpx

    times, failed = [], 0
    with httpx.Client(base_url=url, timeout=timeout) as session:
        for i in range(probes):
            start = time.perf_counter()
            try:
                ok = session.post("/translate", json={"q": f"Merci beaucoup, numéro {i}.", "source": "fr",
                                                      "target": "en"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                times.append(time.perf_counter() - start)
            else:
                failed += 1
    return (statistics.median(times) if times else float("inf")), max(times, default=float("inf")), failed


def queued(url: str) -> float:
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("toolkit_serve_queued_items"))


def abandoned_work(model: Path, args: argparse.Namespace) -> dict:
    import httpx

    text = " ".join(f"Phrase numéro {i} d'un long texte abandonné." for i in range(args.large_sentences))
    with Server(model, args, "--max-queue", "100000", "--char-limit", "0") as server:
        idle, _, idle_failed = one_sentence_latency(server.url, args.probes, 60)

        async def abandon() -> int:
            async with httpx.AsyncClient(base_url=server.url, timeout=args.abandon_after) as session:
                async def one() -> int:
                    try:
                        await session.post("/translate", json={"q": text, "source": "fr", "target": "en"})
                        return 0
                    except httpx.TimeoutException:
                        return 1
                return sum(await asyncio.gather(*(one() for _ in range(args.abandon))))

        gone = asyncio.run(abandon())
        time.sleep(0.5)
        left = queued(server.url)
        after, worst, after_failed = one_sentence_latency(server.url, args.probes, 60)
    return {"idle_latency_s": idle, "abandoned_requests": gone, "queued_after_abandon": left,
            "latency_after_abandon_s": after, "max_latency_after_abandon_s": worst, "ratio": after / idle, "failed": idle_failed + after_failed,
            "sentences_abandoned": gone * args.large_sentences}


def idle_connections(model: Path, args: argparse.Namespace) -> dict:
    import httpx

    with Server(model, args) as server:
        before = server.stderr_bytes()
        slow = []  # [socket, opened at, last byte sent at, lived (None while open)]
        for _ in range(args.slowloris):
            try:
                sock = socket.create_connection((HOST, server.port), timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                sock.setblocking(False)
                slow.append([sock, time.monotonic(), time.monotonic(), None])
            except OSError:
                break
        hold = args.hold
        helpers: list[subprocess.Popen] = []
        probes, failures = [], 0
        # First the slowloris connections alone (for longer than --header-timeout), then the idle flood.
        flood_at = time.monotonic() + args.slowloris_alone
        deadline = flood_at + hold + 120  # opening (at most 120 s) and holding, probed throughout
        while time.monotonic() < deadline and not (helpers and all(h.poll() is not None for h in helpers)):
            if not helpers and time.monotonic() >= flood_at:
                remaining = args.idle
                while remaining > 0:
                    count = min(PER_HELPER, remaining)
                    remaining -= count
                    helpers.append(subprocess.Popen([sys.executable, "-c", _HOLDER, str(server.port), str(count),
                                                     str(hold)], stdout=subprocess.PIPE, text=True))
            start = time.perf_counter()
            try:
                ok = httpx.get(f"{server.url}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                probes.append(time.perf_counter() - start)
            else:
                failures += 1
            now = time.monotonic()
            for entry in slow:  # one more header byte every 2 s, until the server answers or closes
                sock, opened_at, sent_at, lived = entry
                if lived is not None:
                    continue
                try:
                    if sock.recv(4096) is not None:  # an answer (408) or the close
                        entry[3] = now - opened_at
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    entry[3] = now - opened_at
                    continue
                if now - sent_at >= 2:
                    try:
                        sock.send(b"X")
                        entry[2] = now
                    except OSError:
                        entry[3] = now - opened_at
            time.sleep(0.5)
        opened = failed = closed = 0
        open_seconds = 0.0
        for helper in helpers:
            out, _ = helper.communicate(timeout=hold + 240)
            lines = out.split()
            opened += int(lines[0])
            failed += int(lines[1])
            open_seconds = max(open_seconds, float(lines[2]))
            closed += int(lines[3]) if len(lines) > 3 else 0
        lived = [entry[3] for entry in slow if entry[3] is not None]
        for entry in slow:
            entry[0].close()
        growth = server.stderr_bytes() - before
    return {"idle_opened": opened, "idle_failed": failed, "idle_closed_by_server": closed,
            "idle_open_seconds": open_seconds,
            "health_answered": len(probes), "health_failed": failures,
            "health_median_s": statistics.median(probes) if probes else float("nan"),
            "health_max_s": max(probes) if probes else float("nan"),
            "slowloris": len(slow), "slowloris_closed": len(lived),
            "slowloris_max_life_s": max(lived) if lived else float("nan"), "stderr_growth_bytes": growth}


def forged_addresses(model: Path, args: argparse.Namespace) -> dict:
    import httpx

    codes = []
    with Server(model, args, "--rate-limit", str(args.rate_limit)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as session:
        for i in range(20):
            codes.append(session.post("/translate", json={"q": "Merci.", "source": "fr", "target": "en"},
                                      headers={"X-Forwarded-For": f"198.51.100.{i + 1}"}).status_code)
    return {"requests": len(codes), "ok": codes.count(200), "limited": codes.count(429),
            "other": len(codes) - codes.count(200) - codes.count(429)}


def report(results: dict, args: argparse.Namespace) -> str:
    a, c, f = results["abandoned"], results["connections"], results["forged"]
    rows = [
        ("1 abandoned work", f"{a['abandoned_requests']} clients × {args.large_sentences} sentences, gone after "
                             f"{args.abandon_after:g} s",
         f"median: idle {a['idle_latency_s']:.3f} s → after {a['latency_after_abandon_s']:.3f} s ({a['ratio']:.2f}×), "
         f"worst {a['max_latency_after_abandon_s']:.3f} s (the batch in flight finishes first); "
         f"{a['queued_after_abandon']:.0f} sentences still queued; {a['failed']} failed", "≤ 2×"),
        ("2 idle connections", f"{c['idle_opened']} opened in {c['idle_open_seconds']:g} s ({c['idle_failed']} "
                               f"failed), held {args.hold:g} s",
         f"/health {c['health_answered']} answered, {c['health_failed']} failed, median {c['health_median_s']:.3f} s, "
         f"max {c['health_max_s']:.3f} s; {c['idle_closed_by_server']} idle closed by the server; "
         f"stderr +{c['stderr_growth_bytes']} bytes", "/health answers"),
        ("2 slowloris", f"{c['slowloris']} connections, a header byte every 2 s",
         f"{c['slowloris_closed']} closed by the server, longest lived {c['slowloris_max_life_s']:.1f} s", "closed"),
        ("6 forged X-Forwarded-For", f"{f['requests']} requests, 20 addresses, --rate-limit {args.rate_limit}",
         f"{f['ok']} answered, {f['limited']} limited (429), {f['other']} other", f"{20 - args.rate_limit} limited"),
    ]
    lines = ["| scenario | load | result | target |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny model instead of opus-mt dimensions")
    parser.add_argument("--probes", type=int, default=10, help="one-sentence requests per latency measurement")
    parser.add_argument("--abandon", type=int, default=4, help="clients that send a large request and go away")
    parser.add_argument("--large-sentences", type=int, default=300, help="sentences per abandoned request")
    parser.add_argument("--abandon-after", type=float, default=1.0, help="seconds before those clients give up")
    parser.add_argument("--idle", type=int, default=20_000, help="idle connections held")
    parser.add_argument("--slowloris", type=int, default=50, help="connections sending headers a byte every 2 s")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds the idle connections are held")
    parser.add_argument("--slowloris-alone", type=float, default=15.0,
                        help="seconds the slowloris connections run before the idle flood starts")
    parser.add_argument("--rate-limit", type=int, default=5, help="the server's --rate-limit for scenario 3")
    parser.add_argument("--server-path", type=Path, default=None,
                        help="run the server from this checkout (its toolkit/ first on PYTHONPATH)")
    parser.add_argument("--out", type=Path, default=None, help="write serve_abuse.md and .json here")
    args = parser.parse_args()
    soft, hard = raise_fd_limit()
    models = Path(tempfile.gettempdir()) / "toolkit-serve-abuse-models"
    model = build_model(models, args.tiny)
    started = time.time()
    results = {"abandoned": abandoned_work(model, args), "connections": idle_connections(model, args),
               "forged": forged_addresses(model, args)}
    from toolkit.io.runs import cpu_model

    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "cpu": cpu_model(),
            "cores": os.cpu_count(), "model": model.name, "fd_limit": {"soft_before": soft, "hard": hard},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "seconds": round(time.time() - started)}
    text = report(results, args)
    print(text)
    print(json.dumps(meta))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "serve_abuse.md").write_text(text + "\n", encoding="utf-8")
        (args.out / "serve_abuse.json").write_text(json.dumps({**meta, **results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
