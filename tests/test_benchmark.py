"""`toolkit benchmark`: the smoke config end to end, config validation, caching, failures, compare."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
SMOKE = REPO / "configs" / "benchmarks" / "smoke.yaml"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the paths the configs name, so runs write their outputs/ there."""
    root = tmp_path_factory.mktemp("bench")
    for name in ("seeds", "evaluation", "configs"):
        shutil.copytree(REPO / name, root / name)
    return root


@pytest.fixture(scope="module")
def smoke_run(workspace: Path) -> tuple[Path, object]:

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        result = runner.invoke(app, ["benchmark", "configs/benchmarks/smoke.yaml", "--out", "outputs/run-a", "--quiet"])
    return workspace / "outputs" / "run-a", result


def test_smoke_benchmark_writes_every_report(smoke_run) -> None:
    run, result = smoke_run
    assert result.exit_code == 0, result.output
    assert {p.name for p in run.iterdir()} >= {"results.json", "results.csv", "leaderboard.md", "quality-vs-speed.png",
                                               "config.yaml", "manifest.json"}
    assert (run / "quality-vs-speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((run / "results.json").read_text())
    systems = {"marian-torch", "marian-ct2", "lead-3", "textrank", "bart", "marian-then-textrank"}
    assert {r["system"] for r in results["runs"]} == systems and not [r for r in results["runs"] if "error" in r]
    assert results["environment"]["packages"]["torch"] and results["config"]["name"] == "smoke"
    quality = {(q["system"], q["task"]): q for q in results["quality"]}
    assert set(quality) == {("marian-torch", "translation"), ("marian-ct2", "translation"), ("lead-3", "summarization"),
                            ("textrank", "summarization"), ("bart", "summarization"),
                            ("marian-then-textrank", "translation"), ("marian-then-textrank", "summarization")}
    assert quality[("textrank", "summarization")]["evaluation"]["baseline"]["comparison"]
    assert quality[("marian-then-textrank", "summarization")]["lang"] == "en"
    assert quality[("lead-3", "summarization")]["lang"] == "fr"
    assert set(quality[("marian-ct2", "translation")]["per_document"]) == {p.stem for p in (REPO / "seeds").glob("*.txt")}
    for run_entry in results["runs"]:
        speed = run_entry["speed"]
        assert speed["latency_p50"] > 0 and speed["peak_rss_mb"] > 50 and speed["load_seconds"] >= 0
    with (run / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"system", "task", "BLEU", "chrF++", "ROUGE-L", "latency_p50", "generated_tokens_per_second", "peak_rss_mb",
            "model_size_mb"} <= set(rows[0])
    leaderboard = (run / "leaderboard.md").read_text()
    assert "## translation (baseline: marian-torch)" in leaderboard and "| marian-ct2 |" in leaderboard


def test_flag_rates_next_to_scores_and_speed(smoke_run) -> None:
    """#26: each system's share of sentences per flag and per risk, from toolkit.quality's assess."""
    from toolkit.quality import CHECKS, RISKS, Pair, assess

    run, result = smoke_run
    assert result.exit_code == 0, result.output
    results = json.loads((run / "results.json").read_text())
    by_system = {r["system"]: r for r in results["runs"]}
    for name in ("marian-torch", "marian-ct2", "marian-then-textrank"):
        entry = by_system[name]
        pairs = [Pair(s, o, d, i) for d in entry["doc_order"]
                 for i, (s, o) in enumerate(zip(entry["documents"][d]["translation_sources"],
                                                entry["documents"][d]["translation"]))]
        assessed = assess(pairs, "fr", "en")
        rates = entry["flags"]
        assert rates["sentences"] == len(pairs) > 0
        assert rates["counts"]["flags"] == {c: sum(any(f.name == c for f in a.flags) for a in assessed) for c in CHECKS}
        assert rates["counts"]["risk"] == {r: sum(a.risk == r for a in assessed) for r in RISKS}
        assert rates["flags"]["numbers"] == rates["counts"]["flags"]["numbers"] / len(pairs)
        assert sum(rates["risk"].values()) == pytest.approx(1.0)
    assert "flags" not in by_system["lead-3"] and results["quality_checks"]["copy_similarity"] == 0.9
    with (run / "results.csv").open() as handle:
        rows = {(r["system"], r["task"]): r for r in csv.DictReader(handle)}
    torch_row = rows[("marian-torch", "translation")]
    assert float(torch_row["flagged"]) == pytest.approx(1 - by_system["marian-torch"]["flags"]["risk"]["ok"])
    assert float(torch_row["flag untranslated"]) == by_system["marian-torch"]["flags"]["flags"]["untranslated"]
    assert rows[("lead-3", "summarization")]["flagged"] == ""
    leaderboard = (run / "leaderboard.md").read_text()
    assert "### translation: flag rates" in leaderboard
    header = next(line for line in leaderboard.splitlines() if line.startswith("| system | dataset | sentences"))
    assert all(c in header for c in CHECKS) and "likely-wrong" in header
    translation_header = next(line for line in leaderboard.splitlines() if line.startswith("| system | dataset | BLEU"))
    assert "flagged" in translation_header


def test_numbers_and_terms_metrics_in_a_benchmark(smoke_run, workspace: Path) -> None:
    """The reference-free metrics read the dataset's sources, in the dataset's source language."""
    import yaml

    config = yaml.safe_load(SMOKE.read_text())
    config["metrics"] = {"translation": ["chrf", "numbers", "terms"]}
    (workspace / "configs" / "benchmarks" / "smoke-numbers.yaml").write_text(yaml.safe_dump(config))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        result = runner.invoke(app, ["benchmark", "configs/benchmarks/smoke-numbers.yaml", "--out", "outputs/run-n",
                                     "--quiet", "--systems", "marian-torch"])
    assert result.exit_code == 0, result.output
    [quality] = json.loads((workspace / "outputs/run-n/results.json").read_text())["quality"]
    scores = {s["metric"]: s for s in quality["evaluation"]["scores"]}
    assert set(scores) == {"chrF++", "Numbers", "Terms"} and "src:fr|tgt:en" in scores["Numbers"]["signature"]
    assert all(0 <= d["Numbers"] <= 100 for d in quality["per_document"].values())


def test_rerun_hits_the_cache_and_compare(smoke_run, workspace: Path) -> None:

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        result = runner.invoke(app, ["benchmark", "configs/benchmarks/smoke.yaml", "--out", "outputs/run-b", "--json",
                                     "--systems", "marian-torch,lead-3"])
        assert result.exit_code == 0, result.output
        results = json.loads((workspace / "outputs/run-b/results.json").read_text())
        assert all(r["cached"] for r in results["runs"])
        fresh = runner.invoke(app, ["benchmark", "configs/benchmarks/smoke.yaml", "--out", "outputs/run-c", "--quiet",
                                    "--systems", "lead-3", "--no-cache", "--limit", "1"])
        assert fresh.exit_code == 0, fresh.output
        results = json.loads((workspace / "outputs/run-c/results.json").read_text())
        assert [r["cached"] for r in results["runs"]] == [False] and len(results["runs"][0]["documents"]) == 1
        compared = runner.invoke(app, ["benchmark", "compare", "outputs/run-a", "outputs/run-b"])
        assert compared.exit_code == 0, compared.output
        assert "marian-torch" in compared.stderr and "only in A: bart" in compared.stderr


def test_failing_system_does_not_stop_the_others_but_fails_the_run(workspace: Path, tmp_path: Path) -> None:

    config = (workspace / "configs/benchmarks/smoke.yaml").read_text()
    config = config.replace("  - name: lead-3\n", "  - name: missing\n    task: summarization\n    model: nobody/not-cached\n  - name: lead-3\n")
    (workspace / "configs/benchmarks/broken.yaml").write_text(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        args = ["benchmark", "configs/benchmarks/broken.yaml", "--json", "--systems", "missing,lead-3,textrank"]
        result = runner.invoke(app, [*args, "--out", "outputs/run-d"])
        allowed = runner.invoke(app, [*args, "--out", "outputs/run-e", "--allow-failures"])
    assert result.exit_code == 3, result.output
    assert "1 system run(s) failed (missing on seeds)" in result.stderr and "--allow-failures" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and [f["system"] for f in summary["failed"]] == ["missing"]
    assert "not in the local Hugging Face cache" in summary["failed"][0]["error"]
    assert {row["system"] for row in summary["leaderboard"]} == {"lead-3", "textrank"}
    run = workspace / "outputs/run-d"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "failed" and results["failed"][0]["system"] == "missing"
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"
    leaderboard = (run / "leaderboard.md").read_text()
    assert "**FAILED: 1 of 3 system runs failed** (missing)" in leaderboard
    assert "| missing | seeds | FAILED |" in leaderboard.split("## summarization")[1]
    assert "FAILED" in (run / "results.csv").read_text()
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["status"] == "failed"


def test_cache_key_follows_code_and_dependencies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from toolkit.benchmark import runner as bench_runner

    package = tmp_path / "toolkit"
    shutil.copytree(REPO / "toolkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = bench_runner.code_fingerprint(package)
    assert bench_runner.code_fingerprint(package) == before
    (package / "evaluation" / "metrics.py").write_text((package / "evaluation" / "metrics.py").read_text() + "\n# edit\n")
    assert bench_runner.code_fingerprint(package) != before

    system = bench_runner.Resolved(bench_runner.System(name="lead-3", task="summarization", model="lead-3"),
                                   identities={"model": "lead-3"})
    dataset = {"sources": [str(REPO / "seeds")], "source_lang": "fr", "target_lang": "en"}
    key = bench_runner.cache_key(system, dataset, None, 1, 1)
    assert bench_runner.cache_key(system, dataset, None, 1, 1) == key
    monkeypatch.setattr(bench_runner, "code_fingerprint", lambda: "another source tree")
    changed_code = bench_runner.cache_key(system, dataset, None, 1, 1)
    monkeypatch.setattr(bench_runner, "dependency_versions", lambda: {"torch": "0.0"})
    changed_deps = bench_runner.cache_key(system, dataset, None, 1, 1)
    assert len({key, changed_code, changed_deps}) == 3


def test_dry_run_resolves_without_generating(workspace: Path) -> None:

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        result = runner.invoke(app, ["benchmark", "configs/benchmarks/fr-en-translation.yaml", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [s["system"] for s in plan["systems"]] == ["opus-mt-fr-en", "opus-mt-fr-en-torch", "opus-mt-tc-big-fr-en",
                                                     "nllb-200-distilled-600M", "m2m100-418M"]
    assert all(s["error"] and "not in the local Hugging Face cache" in s["error"] for s in plan["systems"])


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c.replace("repeats: 1", "repeats: one"), "repeats: Input should be a valid integer"),
    (lambda c: c.replace("warmup: 1", "warmup: 1\nspeed: fast"), "speed: Extra inputs are not permitted"),
    (lambda c: c.replace("sources: [seeds]", "sources: [nowhere]"), "datasets.seeds.sources.0: no such file"),
    (lambda c: c.replace("summarization: lead-3", "summarization: nobody"), "baseline.summarization: no system named 'nobody'"),
    (lambda c: c.replace("    model: lead-3\n", ""), "systems.2: Value error, a summarization system needs 'model'"),
    (lambda c: c.replace("task: pipeline", "task: dance"), "systems.5.task: Input should be"),
    (lambda c: "name: [unclosed", "invalid YAML"),
])
def test_config_errors_name_file_and_key(workspace: Path, edit, fragment: str) -> None:

    bad = workspace / "configs/benchmarks/bad.yaml"
    bad.write_text(edit(SMOKE.read_text()))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        result = runner.invoke(app, ["benchmark", "configs/benchmarks/bad.yaml", "--dry-run"])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith("toolkit: error: configs/benchmarks/bad.yaml: ") and fragment in line, line


def test_unknown_system_and_missing_config(workspace: Path) -> None:
    result = runner.invoke(app, ["benchmark", str(SMOKE), "--systems", "nope", "--dry-run"])
    assert result.exit_code == 2 and "no system named nope" in result.stderr
    result = runner.invoke(app, ["benchmark", "no/such.yaml"])
    assert result.exit_code == 2 and "config file not found" in result.stderr
    result = runner.invoke(app, ["benchmark", "compare", "only-one"])
    assert result.exit_code == 2 and "usage: toolkit benchmark compare RUN_A RUN_B" in result.stderr


def test_existing_run_folder_needs_overwrite(smoke_run, workspace: Path) -> None:

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        args = ["benchmark", "configs/benchmarks/smoke.yaml", "--out", "outputs/run-a", "--systems", "lead-3", "--quiet"]
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2 and "--overwrite" in refused.stderr
        assert runner.invoke(app, args + ["--overwrite"]).exit_code == 0
