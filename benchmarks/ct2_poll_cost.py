"""What waiting for CTranslate2's results costs (toolkit/engines/ct2.py RESULT_POLL_SECONDS): the
CPU of the thread that polls ``done()`` while batches decode ("busy"), and of the same loop
against a result that is not ready for 5 s ("idle").

    python benchmarks/ct2_poll_cost.py [--sentences 400]

The model is a tiny random Marian (toolkit.models.random.build_marian) trained on the seeds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=400)
    args = parser.parse_args()
    from toolkit import Translator
    from toolkit.engines import ct2
    from toolkit.models.random import build_marian

    seeds = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    with tempfile.TemporaryDirectory() as tmp:
        model = build_marian(Path(tmp) / "marian", seeds)
        translator = Translator.from_pretrained(str(model), backend="ct2", device="cpu", max_new_tokens=64)
        texts = [f"Phrase numéro {i} du texte, avec quelques mots de plus pour la longueur." for i in range(args.sentences)]
        translator.translate(texts[:4])  # warm
        waits = {"cpu": 0.0, "wall": 0.0, "wakeups": 0}
        original, real_sleep = ct2.CT2Engine._finished, time.sleep

        def counting_sleep(seconds: float) -> None:
            waits["wakeups"] += 1
            real_sleep(seconds)

        def finished(self: Any, futures: list[Any]) -> list[Any]:
            cpu, wall = time.thread_time(), time.perf_counter()
            ct2.time.sleep = counting_sleep  # type: ignore[assignment]
            try:
                return original(self, futures)
            finally:
                ct2.time.sleep = real_sleep  # type: ignore[assignment]
                waits["cpu"] += time.thread_time() - cpu
                waits["wall"] += time.perf_counter() - wall

        ct2.CT2Engine._finished = finished  # type: ignore[method-assign]
        process, wall = time.process_time(), time.perf_counter()
        translator.translate(texts)
        process, wall = time.process_time() - process, time.perf_counter() - wall
        print(f"busy: {wall:.2f} s, process CPU {process:.2f} s; the waiting thread: {waits['wall']:.2f} s of waits, "
              f"{waits['cpu'] * 1000:.1f} ms CPU, {waits['wakeups']} wake-ups "
              f"({waits['cpu'] / max(waits['wall'], 1e-9):.2%} of a core, {waits['cpu'] / process:.2%} of the process CPU)")
    end = time.perf_counter() + 5
    cpu, wall = time.thread_time(), time.perf_counter()
    while time.perf_counter() < end:
        time.sleep(ct2.RESULT_POLL_SECONDS)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    print(f"idle: {wall:.2f} s of waits, {cpu * 1000:.1f} ms CPU ({cpu / wall:.2%} of a core); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
