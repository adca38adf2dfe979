"""Running a benchmark config: resolve models, run each system in its own process (cached by
model revision, parameters and inputs), score quality with the evaluation harness, report."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.benchmark.config import Benchmark, System
from toolkit.benchmark.measure import percentile
from toolkit.errors import ToolkitError
from toolkit.version import __version__ as toolkit_version

RANDOM_PREFIX = "random:"
RANDOM_KINDS = ("marian", "bart", "t5")


def random_model(kind: str, root: Path) -> Path:
    """Tiny random-weight models for testing the machinery offline (``model: random:marian``)."""
    from toolkit.models.random import FRENCH_SAMPLE, build_bart, build_marian, build_t5

    if kind not in RANDOM_KINDS:
        raise ToolkitError(f"unknown random model '{RANDOM_PREFIX}{kind}' (known: {', '.join(RANDOM_KINDS)})")
    path = root / f"random-{kind}"
    if (path / "config.json").exists():
        return path
    builders: dict[str, Callable[..., Path]] = {"marian": build_marian, "bart": build_bart, "t5": build_t5}
    builders[kind](path, ["\n".join(FRENCH_SAMPLE)])
    return path


@dataclass
class Resolved:
    """A system's model references resolved to what identifies them (or why they cannot run)."""

    system: System
    references: dict[str, str] = field(default_factory=dict)  # role → reference to load
    identities: dict[str, str] = field(default_factory=dict)  # role → revision/content identity
    status: dict[str, str] = field(default_factory=dict)  # role → cached | local | builtin | …
    error: str | None = None


def model_roles(system: System) -> dict[str, str]:
    if system.task == "pipeline":
        return {"translator": system.translator or "", "summarizer": system.summarizer or ""}
    return {"model": system.model or ""}


def resolve_system(system: System, models_root: Path, allow_download: bool = False) -> Resolved:
    from toolkit.models.hub import resolve_model
    from toolkit.tasks.summarize import EXTRACTIVE

    resolved = Resolved(system)
    for role, reference in model_roles(system).items():
        try:
            if reference.startswith(RANDOM_PREFIX):
                path = random_model(reference[len(RANDOM_PREFIX):], models_root)
                ref = resolve_model(str(path))
                resolved.references[role], resolved.identities[role] = str(path), ref.identity
                resolved.status[role] = "random (built locally)"
            elif EXTRACTIVE.match(reference.lower()) and role != "translator":
                resolved.references[role] = resolved.identities[role] = reference
                resolved.status[role] = "builtin"
            else:
                ref = resolve_model(reference, allow_download=allow_download)
                resolved.references[role], resolved.identities[role] = reference, ref.identity
                resolved.status[role] = "local folder" if ref.source == "local" else "in HF cache"
        except ToolkitError as exc:
            resolved.status[role] = "unavailable"
            resolved.error = str(exc)
    return resolved


def _inputs_hash(sources: list[str]) -> str:
    from toolkit.io.documents import read_inputs

    digest = hashlib.sha256()
    for doc in read_inputs(sources):
        digest.update(doc.id.encode() + b"\0" + doc.text.encode() + b"\0")
    return digest.hexdigest()


# Packages whose version can change what a system generates or how fast: part of the cache key.
KEY_DEPENDENCIES = ("torch", "transformers", "tokenizers", "sentencepiece", "sacremoses", "ctranslate2", "numpy")


def code_fingerprint(package: Path | None = None) -> str:
    """SHA-256 over the toolkit package's Python sources (relative path and bytes of each ``*.py``)."""
    root = package or Path(__file__).resolve().parents[1]  # the toolkit package
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def dependency_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for package in KEY_DEPENDENCIES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def cache_key(resolved: Resolved, dataset: dict[str, Any], limit: int | None, repeats: int, warmup: int) -> str:
    """Outputs are reused only for the same system, models, inputs, code and key dependency versions."""
    spec = {
        "system": resolved.system.model_dump(exclude={"name"}),
        "identities": resolved.identities,
        "inputs": _inputs_hash(dataset["sources"]),
        "langs": [dataset["source_lang"], dataset["target_lang"]],
        "limit": limit, "repeats": repeats, "warmup": warmup, "toolkit": toolkit_version,
        "code": code_fingerprint(), "dependencies": dependency_versions(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


def run_system(resolved: Resolved, dataset_name: str, dataset: dict[str, Any], limit: int | None, repeats: int,
               warmup: int, cache_dir: Path, use_cache: bool, on_progress: Callable[[int], None]) -> dict[str, Any]:
    """Generation outputs and measurements of one system on one dataset (from cache if allowed)."""
    system = resolved.system
    if resolved.error:
        return {"system": system.name, "dataset": dataset_name, "error": resolved.error}
    key = cache_key(resolved, dataset, limit, repeats, warmup)
    cached = cache_dir / f"{key}.json"
    if use_cache and cached.is_file():
        result = json.loads(cached.read_text())
        on_progress(len(result["documents"]))
        return {**result, "dataset": dataset_name, "cached": True, "cache_key": key}
    spec = {"system": {**system.model_dump(), **{k: v for k, v in resolved.references.items()}},
            "dataset": dataset, "limit": limit, "repeats": repeats, "warmup": warmup}
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.Popen([sys.executable, "-m", "toolkit.benchmark.worker", str(spec_path), str(result_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("progress "):
                on_progress(int(line.split()[1]))
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait()
        if not result_path.exists():
            last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {proc.returncode}"
            return {"system": system.name, "dataset": dataset_name, "error": f"worker failed: {last}"}
        result = json.loads(result_path.read_text())
    if "error" not in result:
        cache_dir.mkdir(parents=True, exist_ok=True)
        from toolkit.io.documents import atomic_write_text

        atomic_write_text(cached, json.dumps(result, ensure_ascii=False))
    return {**result, "dataset": dataset_name, "cached": False, "cache_key": key}


def _speed(result: dict[str, Any]) -> dict[str, Any]:
    docs = result["documents"].values()
    latencies = [s for d in docs for s in d["seconds"]]
    repeats = result.get("repeats", 1)
    seconds = sum(latencies)
    source = sum(d["source_tokens"] for d in docs) * repeats
    generated = sum(d["output_tokens"] for d in docs) * repeats
    return {"load_seconds": result["load_seconds"], "latency_p50": percentile(latencies, 50),
            "latency_p95": percentile(latencies, 95), "wall_seconds": seconds,
            "source_tokens_per_second": source / seconds if seconds else None,
            "generated_tokens_per_second": generated / seconds if seconds else None,
            "peak_rss_mb": result["peak_rss_mb"], "model_size_mb": result["model_bytes"] / 1e6}


def _references(path: str, doc_ids: list[str], task: str):
    from toolkit.evaluation.data import Segments, load_segments

    refs = load_segments(path, "ref", task)
    wanted = set(doc_ids)
    keys = refs.keys or []
    keep = [i for i, (d, _) in enumerate(keys) if d in wanted]
    return Segments(refs.origin, [keys[i] for i in keep], [refs.texts[i] for i in keep], refs.task, refs.lang)


def _hypotheses(result: dict[str, Any], task: str):
    from toolkit.evaluation.data import Segments

    keys: list[tuple[str, int]] = []
    texts: list[list[str]] = []
    sources: list[Any] = []
    for doc_id in result["doc_order"]:
        document = result["documents"][doc_id]
        output = document[task]
        for i, text in enumerate(output if task == "translation" else [output]):
            keys.append((doc_id, i))
            texts.append([text])
        if task == "translation":
            sources.extend(document.get("translation_sources") or [None] * len(output))
    complete = task == "translation" and len(sources) == len(keys) and all(isinstance(s, str) for s in sources)
    return Segments(result["system"], keys, texts, task, sources=sources if complete else None)


def score(config: Benchmark, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quality rows: one per (system, dataset, task), with CIs and the paired test vs the baseline."""
    from toolkit.evaluation import EvaluationOptions, evaluate
    from toolkit.evaluation.base import compute
    from toolkit.evaluation.data import align, align_sources
    from toolkit.evaluation.registry import MetricContext, build_metrics, default_metrics

    rows = []
    neural = config.neural.options()
    by_key = {(r["system"], r["dataset"]): r for r in runs if "error" not in r}
    systems = {s.name: s for s in config.systems}
    for run in runs:
        if "error" in run:
            continue
        dataset = config.datasets[run["dataset"]]
        system = systems[run["system"]]
        for task in system.produces:
            lang = dataset.target_lang if task == "translation" else system.summary_lang(dataset)
            path = dataset.references.translation if task == "translation" else dataset.references.summarization.get(lang)
            if path is None:
                continue
            refs = _references(path, run["doc_order"], task)
            hyp_segments = _hypotheses(run, task)
            keys, hyps, references = align(hyp_segments, refs)
            sources = align_sources(keys, hyp_segments, quiet=True)  # what COMET reads
            baseline_name = config.baseline.get(task)
            baseline_run = by_key.get((baseline_name, run["dataset"])) if baseline_name else None
            baseline = None
            same_language = baseline_name in systems and (task == "translation" or systems[baseline_name].summary_lang(dataset) == lang)
            if baseline_run is not None and baseline_name != run["system"] and same_language:
                _, baseline, _ = align(_hypotheses(baseline_run, task), refs)
            source_lang = dataset.source_lang if task == "translation" else None  # what numbers reads
            options = EvaluationOptions(task=task, lang=lang, bootstrap=config.bootstrap, seed=config.seed, neural=neural,
                                        src_lang=source_lang)
            result = evaluate(hyps, references, config.metrics.get(task), options, baseline=baseline, keys=keys,
                              sources=sources).to_dict()
            metrics = build_metrics(config.metrics.get(task) or default_metrics(task),
                                    MetricContext(lang, neural=neural, sources=sources, source_lang=source_lang))
            # Per-segment statistics once; a document's score is the metric of its segments' summed
            # statistics (what scoring that document alone gives).
            scored = [compute(m, hyps, references) for m in metrics]
            per_doc = {}
            positions: dict[str, list[int]] = {}
            for i, (d, _) in enumerate(keys):
                positions.setdefault(d, []).append(i)
            for doc_id in run["doc_order"]:
                index = positions.get(doc_id, [])
                if index:
                    per_doc[doc_id] = {s.name: m.from_sums(s.stats[index].sum(axis=0)) for m, s in zip(metrics, scored)}
            rows.append({"system": run["system"], "dataset": run["dataset"], "task": task, "lang": lang,
                         "baseline": baseline_name if baseline is not None else None,
                         "evaluation": result, "per_document": per_doc})
    return rows


def run_id(config: Benchmark) -> str:
    return f"{config.name}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def select_systems(config: Benchmark, names: list[str] | None) -> list[System]:
    if not names:
        return list(config.systems)
    known = {s.name for s in config.systems}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ToolkitError(f"--systems: no system named {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [s for s in config.systems if s.name in names]


def plan(systems: list[System], models_root: Path) -> list[Resolved]:
    return [resolve_system(s, models_root) for s in systems]


def run_benchmark(config: Benchmark, config_path: Path, out: Path, systems: list[System], limit: int | None,
                  use_cache: bool, cache_dir: Path, models_root: Path, show_progress: bool,
                  overwrite: bool = False) -> dict[str, Any]:
    """Run every selected system on every dataset, score, and write the run folder ``out``."""
    from toolkit.benchmark.report import markdown, plot, to_csv
    from toolkit.benchmark.trust import flag_rates
    from toolkit.config import load_defaults
    from toolkit.io.documents import read_inputs
    from toolkit.io.runs import RunFolder, base_manifest, environment, git_commit
    from toolkit.runtime import progress

    resolved = plan(systems, models_root)
    checks = load_defaults().quality  # the thresholds of the flag rates, as `toolkit review` uses them
    datasets = {name: {**d.model_dump(), "sources": d.sources} for name, d in config.datasets.items()}
    sizes = {name: min(len(read_inputs(d.sources)), limit or 10**9) for name, d in config.datasets.items()}
    sources = [Path(s) for d in config.datasets.values() for s in d.sources]
    run = RunFolder(out, overwrite=overwrite, inputs=[config_path, *sources])
    with run:
        runs = []
        with progress("benchmark", len(resolved) * sum(sizes.values()), show_progress) as bar:
            for item in resolved:
                for name, dataset in datasets.items():
                    bar.note(f"{item.system.name} on {name}")
                    result = run_system(item, name, dataset, limit, config.repeats, config.warmup, cache_dir, use_cache,
                                        bar.advance)
                    if "error" not in result:
                        result["speed"] = _speed(result)
                        rates = flag_rates(result, dataset["source_lang"], dataset["target_lang"], checks)
                        if rates is not None:
                            result["flags"] = rates
                    result["resolved"] = {"references": item.references, "identities": item.identities,
                                          "status": item.status}
                    runs.append(result)
        results: dict[str, Any] = {
            "run_id": out.name, "toolkit_version": toolkit_version, "git_commit": git_commit(),
            "environment": environment(), "config_file": str(config_path), "config": config.model_dump(mode="json"),
            "limit": limit, "systems": [s.name for s in systems], "runs": runs, "quality": score(config, runs),
            "quality_checks": checks.model_dump(mode="json"),
            "failed": [{"system": r["system"], "dataset": r["dataset"], "error": r["error"]} for r in runs if "error" in r],
        }
        results["status"] = "failed" if results["failed"] else "complete"
        run.write_text("results.json", json.dumps(results, ensure_ascii=False, indent=1) + "\n")
        run.write_text("results.csv", to_csv(results))
        run.write_text("leaderboard.md", markdown(results))
        run.write_bytes("quality-vs-speed.png", plot(results))
        run.write_text("config.yaml", config_path.read_text(encoding="utf-8"))
        run.commit({**base_manifest("benchmark"), "task": "benchmark", "run_id": out.name,
                    "config_file": str(config_path), "status": results["status"],
                    "failed_runs": len(results["failed"])})
    return results
