"""Benchmark reports: results.json, results.csv, leaderboard.md, quality-vs-speed.png, and the
terminal leaderboard; plus comparing two runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from toolkit.io.tables import markdown_table

# The metrics shown in the leaderboard, and the one plotted against speed, per task.
HEADLINE = {"translation": ["BLEU", "chrF++", "TER"], "summarization": ["ROUGE-1", "ROUGE-2", "ROUGE-L"]}
PLOTTED = {"translation": "chrF++", "summarization": "ROUGE-L"}


def leaderboard_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (system, dataset, task), quality and cost side by side."""
    speed = {(r["system"], r["dataset"]): r for r in results["runs"]}
    rows = []
    for quality in results["quality"]:
        run = speed[(quality["system"], quality["dataset"])]
        evaluation = quality["evaluation"]
        comparisons = {c["metric"]: c for c in evaluation.get("baseline", {}).get("comparison", [])}
        row: dict[str, Any] = {"system": quality["system"], "dataset": quality["dataset"], "task": quality["task"]}
        for score in evaluation["scores"]:
            if score["metric"] in HEADLINE[quality["task"]]:
                name = score["metric"]
                row[name] = score["score"]
                row[f"{name} CI"] = (score["ci_low"], score["ci_high"])
                if name in comparisons:
                    row[f"{name} Δ"] = comparisons[name]["delta"]
                    row[f"{name} p"] = comparisons[name]["p_randomization"]
        row["baseline"] = quality["baseline"]
        row.update({k: run["speed"][k] for k in ("latency_p50", "latency_p95", "generated_tokens_per_second",
                                                  "source_tokens_per_second", "load_seconds", "peak_rss_mb", "model_size_mb")})
        row["cached"] = run.get("cached", False)
        if quality["task"] == "translation" and "flags" in run:
            row.update(_flag_cells(run["flags"]))
        rows.append(row)
    return rows


def _flag_cells(rates: dict[str, Any]) -> dict[str, Any]:
    """A run's flag rates as flat leaderboard fields (CSV columns): shares, 0–1."""
    cells: dict[str, Any] = {"flagged": 1.0 - rates["risk"]["ok"], "likely-wrong": rates["risk"]["likely-wrong"]}
    cells.update({f"flag {name}": share for name, share in rates["flags"].items()})
    cells["checked sentences"] = rates["sentences"]
    return cells


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def flag_table(rows: list[dict[str, Any]]) -> list[str]:
    """leaderboard.md's flag rates: per system, the share of its sentences at each risk and per check."""
    rows = [r for r in rows if r["task"] == "translation" and "flagged" in r]
    if not rows:
        return []
    checks = [key[len("flag "):] for key in rows[0] if key.startswith("flag ")]
    head = ["system", "dataset", "sentences", "review or worse", "likely-wrong", *checks]
    body = [[r["system"], r["dataset"], str(r["checked sentences"]), _percent(r["flagged"]), _percent(r["likely-wrong"]),
             *[_percent(r.get(f"flag {c}")) for c in checks]] for r in rows]
    return ["### translation: flag rates", "",
            ("Share of each system's translated sentences flagged by each check of `toolkit review` (no reference "
             "needed; the thresholds are results.json's `quality_checks`), and at each risk level."), "",
            *markdown_table(head, body), ""]


def _fmt_quality(row: dict[str, Any], metric: str) -> str:
    if metric not in row:
        return "–"
    low, high = row[f"{metric} CI"]
    text = f"{row[metric]:.1f} [{low:.1f}, {high:.1f}]"
    if f"{metric} Δ" in row:
        star = "*" if row[f"{metric} p"] < 0.05 else ""
        text += f" ({row[f'{metric} Δ']:+.1f}{star})"
    return text


def _columns(task: str) -> list[str]:
    flagged = ["flagged"] if task == "translation" else []
    return ["system", "dataset", *HEADLINE[task], *flagged, "p50 s/doc", "p95 s/doc", "gen tok/s", "load s", "peak MiB",
            "size MB"]


def _cells(row: dict[str, Any]) -> list[str]:
    flagged = [_percent(row.get("flagged"))] if row["task"] == "translation" else []
    return [row["system"], row["dataset"], *[_fmt_quality(row, m) for m in HEADLINE[row["task"]]], *flagged,
            f"{row['latency_p50']:.2f}", f"{row['latency_p95']:.2f}", f"{row['generated_tokens_per_second'] or 0:.1f}",
            f"{row['load_seconds']:.1f}", f"{row['peak_rss_mb']:.0f}", f"{row['model_size_mb']:.0f}"]


def _short(row: dict[str, Any], metric: str) -> str:
    """Terminal form: score ± half the CI width."""
    if metric not in row:
        return "–"
    low, high = row[f"{metric} CI"]
    return f"{row[metric]:.1f} ±{(high - low) / 2:.1f}"


def tables(results: dict[str, Any]) -> list[Table]:
    """The terminal leaderboard: compact (full intervals are in leaderboard.md)."""
    out = []
    rows = leaderboard_rows(results)
    several = len({r["dataset"] for r in rows}) > 1
    for task in ("translation", "summarization"):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows:
            continue
        first = HEADLINE[task][0]
        table = Table(title=f"{task}: quality (±95% CI half-width), Δ {first} vs baseline (p, AR), cost", title_justify="left")
        flagged = ["flagged", "likely-wrong"] if task == "translation" else []
        columns = (["system"] + (["dataset"] if several else []) + HEADLINE[task] + [f"Δ {first} (p)"] + flagged
                   + ["s/doc p50", "peak MiB", "MB"])
        for column in columns:
            table.add_column(column, no_wrap=True, justify="left" if column in ("system", "dataset") else "right")
        for row in task_rows:
            delta = f"{row[f'{first} Δ']:+.1f} ({row[f'{first} p']:.3f})" if f"{first} Δ" in row else "–"
            rates = [_percent(row.get("flagged")), _percent(row.get("likely-wrong"))] if task == "translation" else []
            table.add_row(row["system"], *([row["dataset"]] if several else []), *[_short(row, m) for m in HEADLINE[task]],
                          delta, *rates, f"{row['latency_p50']:.2f}", f"{row['peak_rss_mb']:.0f}", f"{row['model_size_mb']:.0f}")
        out.append(table)
    failed = [r for r in results["runs"] if "error" in r]
    if failed:
        table = Table(title="failed systems", title_justify="left")
        table.add_column("system")
        table.add_column("dataset")
        table.add_column("error")
        for r in failed:
            table.add_row(r["system"], r["dataset"], r["error"])
        out.append(table)
    return out


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [f"# Benchmark: {results['config']['name']}", "", results["config"].get("description", ""), "",
             f"Run {results['run_id']} · toolkit {results['toolkit_version']} (commit {results.get('git_commit') or 'n/a'}) · "
             f"{env['processor']}, {env['cpu_count']} cores · Python {env['python']} · "
             + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v), "",
             (f"Quality: score [95% bootstrap CI, {results['config']['bootstrap']} resamples]; (Δ vs baseline, * = p < 0.05, "
             "approximate randomization). Cost: per-document latency p50/p95, generated tokens per second, model load time, "
             "peak resident memory of the system's own process, model size on disk. Flagged: share of the translated "
             "sentences that `toolkit review`'s checks flag (review or likely-wrong)."), ""]
    failed = [r for r in results["runs"] if "error" in r]
    if failed:
        lines += [(f"**FAILED: {len(failed)} of {len(results['runs'])} system runs failed** "
                  f"({', '.join(sorted({r['system'] for r in failed}))}); they are marked FAILED below."), ""]
    tasks = {s["name"]: s["task"] for s in results["config"].get("systems", [])}
    rows = leaderboard_rows(results)
    for task in ("translation", "summarization"):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows and not any(task in _produces(tasks.get(r["system"])) for r in failed):
            continue
        baseline = next((r["baseline"] for r in task_rows if r["baseline"]), None)
        width = len(_columns(task)) - 2
        failed_rows = [[r["system"], r["dataset"], "FAILED"] + ["–"] * (width - 1) for r in failed
                       if task in _produces(tasks.get(r["system"]))]
        lines += [f"## {task}" + (f" (baseline: {baseline})" if baseline else ""), ""]
        lines += markdown_table(_columns(task), [_cells(r) for r in task_rows] + failed_rows)
        lines.append("")
        if task == "translation":
            lines += flag_table(task_rows)
    if failed:
        lines += ["## Failed systems", ""] + [f"- {r['system']} on {r['dataset']}: {r['error']}" for r in failed] + [""]
    return "\n".join(lines)


def _produces(task: str | None) -> tuple[str, ...]:
    return ("translation", "summarization") if task == "pipeline" else ((task,) if task else ())


def to_csv(results: dict[str, Any]) -> str:
    rows = leaderboard_rows(results)
    flat = []
    for row in rows:
        item = {}
        for key, value in row.items():
            if isinstance(value, tuple):
                item[f"{key} low"], item[f"{key} high"] = value
            else:
                item[key] = value
        flat.append(item)
    for run in results["runs"]:
        if "error" in run:
            flat.append({"system": run["system"], "dataset": run["dataset"], "status": "FAILED", "error": run["error"]})
    buffer = io.StringIO()
    fields = list(dict.fromkeys(k for item in flat for k in item))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def plot(results: dict[str, Any]) -> bytes:
    """Quality against generated tokens per second, one panel per task, error bars = 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = leaderboard_rows(results)
    tasks = [t for t in ("translation", "summarization") if any(r["task"] == t for r in rows)] or ["translation"]
    figure, axes = plt.subplots(1, len(tasks), figsize=(6.5 * len(tasks), 4.8), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        metric = PLOTTED[task]
        for row in (r for r in rows if r["task"] == task and metric in r):
            x, y = max(row["latency_p50"], 1e-4), row[metric]
            low, high = row[f"{metric} CI"]
            axis.errorbar([x], [y], yerr=[[y - low], [high - y]], fmt="o", capsize=4)
            axis.annotate(f"{row['system']} ({row['dataset']})", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
        axis.set_xscale("log")
        axis.set_xlabel("seconds per document, p50 (log scale; left is faster)")
        axis.set_ylabel(f"{metric} (95% CI)")
        axis.set_title(f"{task}: quality vs speed")
        axis.grid(True, alpha=0.3)
    figure.suptitle(f"{results['config']['name']} · {results['run_id']}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def compare(a: dict[str, Any], b: dict[str, Any]) -> tuple[Table, list[str]]:
    """What changed from run A to run B: quality and speed per (system, dataset, task)."""
    rows_a = {(r["system"], r["dataset"], r["task"]): r for r in leaderboard_rows(a)}
    rows_b = {(r["system"], r["dataset"], r["task"]): r for r in leaderboard_rows(b)}
    table = Table(title=f"{a['run_id']} → {b['run_id']}", title_justify="left")
    for column in ("system", "dataset", "task", "metric", "A", "B", "Δ"):
        table.add_column(column, no_wrap=True)
    for key in sorted(set(rows_a) & set(rows_b)):
        ra, rb = rows_a[key], rows_b[key]
        for metric in HEADLINE[key[2]] + ["flagged", "generated_tokens_per_second", "latency_p50", "peak_rss_mb"]:
            if metric in ra and metric in rb and ra[metric] is not None and rb[metric] is not None:
                table.add_row(*key, metric, f"{ra[metric]:.2f}", f"{rb[metric]:.2f}", f"{rb[metric] - ra[metric]:+.2f}")
    notes = [f"only in A: {k[0]} ({k[1]}, {k[2]})" for k in sorted(set(rows_a) - set(rows_b))]
    notes += [f"only in B: {k[0]} ({k[1]}, {k[2]})" for k in sorted(set(rows_b) - set(rows_a))]
    return table, notes


def load_results(path: Path) -> dict[str, Any]:
    from toolkit.errors import ToolkitError

    file = path / "results.json" if path.is_dir() else path
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolkitError(f"{path}: no results.json (not a benchmark run folder)") from None
    except json.JSONDecodeError:
        raise ToolkitError(f"{file}: not valid JSON") from None
