"""Evaluation results as a rich table, JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from rich.table import Table

from toolkit.io.tables import markdown_table

if TYPE_CHECKING:
    from toolkit.io.runs import RunFolder

# The reference-free metrics (toolkit.evaluation.accuracy) by reported name: what they count.
REFERENCE_FREE = {"Numbers": "numbers, amounts, dates and times",
                  "Terms": "glossary and kept terms and protected spans (URLs, e-mails, paths)"}


def _p(value: float) -> str:
    return f"{value:.4f}" if value >= 0.0001 else "<0.0001"


def score_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    comparisons = {c["metric"]: c for c in result.get("baseline", {}).get("comparison", [])}
    rows = []
    for score in result["scores"]:
        row = {"metric": score["metric"], "score": round(score["score"], 2), "ci_low": round(score["ci_low"], 2),
               "ci_high": round(score["ci_high"], 2), "signature": score["signature"]}
        if score["metric"] in comparisons:
            c = comparisons[score["metric"]]
            row.update({"baseline": round(c["baseline"], 2), "delta": round(c["delta"], 2),
                        "delta_ci_low": round(c["ci_low"], 2), "delta_ci_high": round(c["ci_high"], 2),
                        "p_bootstrap": c["p_bootstrap"], "p_randomization": c["p_randomization"]})
        rows.append(row)
    return rows


def _counts(result: dict[str, Any], joiner: str) -> str:
    """'3 segments · 1 document(s)'; a summary's unit is the document itself: '3 documents'."""
    units = f"{result['segments_count']} {result['unit']}s"
    return units if result["unit"] == "document" else f"{units}{joiner}{result['documents_count']} document(s)"


def table(result: dict[str, Any]) -> Table:
    b = result["bootstrap"]
    title = (f"{result['task']} · {_counts(result, ' · ')}"
             f" · 95% CI from {b['resamples']} bootstrap resamples (seed {b['seed']})")
    out = Table(title=title, title_justify="left")
    rows = score_rows(result)
    compare = "baseline" in result
    for column in ["metric", "score", "95% CI"] + (["baseline", "Δ", "Δ 95% CI", "p boot", "p AR"] if compare else []):
        out.add_column(column, no_wrap=True, justify="left" if column == "metric" else "right")
    for row in rows:
        cells = [row["metric"], f"{row['score']:.2f}", f"{row['ci_low']:.2f}–{row['ci_high']:.2f}"]
        if compare:
            cells += [f"{row['baseline']:.2f}", f"{row['delta']:+.2f}", f"{row['delta_ci_low']:+.2f}…{row['delta_ci_high']:+.2f}",
                      _p(row["p_bootstrap"]), _p(row["p_randomization"])]
        out.add_row(*cells)
    return out


def signatures(result: dict[str, Any]) -> str:
    return "\n".join(f"{s['metric']}: {s['signature']}" for s in result["scores"])


def to_csv(result: dict[str, Any]) -> str:
    rows = score_rows(result)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_markdown(result: dict[str, Any]) -> str:
    rows = score_rows(result)
    compare = "baseline" in result
    b = result["bootstrap"]
    head = ["metric", "score", "95% CI"] + (["baseline", "Δ", "Δ 95% CI", "p (bootstrap)", "p (AR)"] if compare else [])
    lines = [f"# Evaluation: {result['task']}", "",
             (f"{_counts(result, ' in ')}; "
             f"95% confidence intervals from {b['resamples']} bootstrap resamples (seed {b['seed']})."), ""]
    table_rows = []
    for row in rows:
        cells = [row["metric"], f"{row['score']:.2f}", f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"]
        if compare:
            cells += [f"{row['baseline']:.2f}", f"{row['delta']:+.2f}", f"[{row['delta_ci_low']:+.2f}, {row['delta_ci_high']:+.2f}]",
                      _p(row["p_bootstrap"]), _p(row["p_randomization"])]
        table_rows.append(cells)
    lines += markdown_table(head, table_rows)
    free = [r["metric"] for r in rows if r["metric"] in REFERENCE_FREE]
    if free:
        lines += ["", f"{' and '.join(free)}: reference-free, from the sources — the share (%) of the sources' "
                      + " and ".join(REFERENCE_FREE[m] for m in free) + " found in the outputs."]
    lines += ["", "Signatures:", ""] + [f"- {r['metric']}: `{r['signature']}`" for r in rows]
    return "\n".join(lines) + "\n"


def write_reports(result: dict[str, Any], run: RunFolder) -> None:
    """scores.json (streamed: with 100k segments its indented text would otherwise be built in
    memory first), scores.csv and scores.md, into an evaluation's run folder."""
    run.write_json("scores.json", result)
    run.write_text("scores.csv", to_csv(result))
    run.write_text("scores.md", to_markdown(result))
