"""The speed benchmark's machinery on tiny dimensions (its figures are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # whole benchmark processes: minutes, kept in CI


def test_quick_speed_benchmark_runs_every_system(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "speed.py"), "--quick", "--out", str(tmp_path), "--translation-tokens", "6",
         "--summary-tokens", "6", "--beams", "2", "--rounds", "1"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "speed.json").read_text())
    assert [t["task"] for t in report["tasks"]] == ["translation", "summarization"]
    for task in report["tasks"]:
        systems = [r["system"] for r in task["results"]]
        assert systems == ["transformers", "toolkit-torch", "toolkit-torch-auto", "toolkit-torch-int8", "toolkit-ct2",
                           "toolkit-ct2-intra", "ctranslate2"]
        for r in task["results"]:
            assert "error" not in r, r
            assert r["generated_tokens"] > 0 and r["tokens_per_second"] > 0 and r["peak_rss_mb"] > 0
            assert r["speedup"] > 0 and r["memory_ratio"] > 0 and r["import_seconds"] >= 0
            assert "outputs" not in r
        agreement = {r["system"]: r.get("agreement") for r in task["results"]}
        for system in ("toolkit-torch-auto", "toolkit-torch-int8", "toolkit-ct2"):
            assert 0 <= agreement[system]["exact_match"] <= 1 and 0 <= agreement[system]["chrf"] <= 100
        assert agreement["transformers"] is None
    markdown = (tmp_path / "speed.md").read_text()
    assert "| toolkit, ct2 backend (int8) |" in markdown and "Machine:" in markdown and "Load average" in markdown


def test_quick_batching_benchmark(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "batching.py"), "--quick", "--out", str(tmp_path),
                           "--tokens", "4", "--beams", "1"],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "batching.json").read_text())
    assert [r["backend"] for r in report["results"]] == ["torch", "ct2"]
    assert all(r["documents"] == 25 and r["batched_seconds"] > 0 for r in report["results"])


def test_quick_startup_benchmark(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "speed.py"), "--startup-only", "--quick",
                           "--startup-repeats", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    startup = json.loads((tmp_path / "startup.json").read_text())["startup"]
    assert "error" not in startup, startup
    assert startup["first_batch_seconds"] > 0 and startup["first_batch_seconds_src_given"] > 0
    assert list(startup["stages"]) == ["imports", "language detected", "tokenizer loaded", "ct2 model loaded",
                                       "first batch"]
    # A behaviour, not a timing: the cached ct2 Marian path loads neither PyTorch nor transformers.
    assert startup["imported_before_first_batch"] == {"torch": False, "transformers": False, "sacremoses": False}
    assert "**start-up**" in (tmp_path / "startup.md").read_text()
