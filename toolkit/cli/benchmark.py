"""`toolkit benchmark`: systems × datasets, quality, speed and memory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.table import Table

# Typer ≥ 0.29 carries its own copy of Click; its exceptions have no public alias.
from toolkit.cli.app import app
from toolkit.cli.common import (
    EXIT_BENCHMARK_FAILED,
    JsonOption,
    OverwriteOption,
    QuietOption,
)
from toolkit.cli.output import print_json, stderr, user_errors
from toolkit.errors import ToolkitError
from toolkit.runtime import quiet_libraries


@app.command()
def benchmark(
    config: Annotated[str, typer.Argument(help="A benchmark config (configs/benchmarks/*.yaml), or 'compare'.")],
    runs: Annotated[list[str] | None, typer.Argument(help="With 'compare': the two run folders RUN_A RUN_B.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default: outputs/benchmarks/<name>-<time>).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N documents of each dataset.")] = None,
    systems: Annotated[str | None, typer.Option("--systems", help="Comma-separated system names to run (default: all).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Generate again even where cached outputs exist.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the config, resolve the models, print the plan; generate nothing.")] = False,
    allow_failures: Annotated[bool, typer.Option("--allow-failures", help=f"Exit 0 even if a system fails (default: exit {EXIT_BENCHMARK_FAILED}, after writing the reports).")] = False,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Compare systems on quality (with CIs and significance), speed and memory: `toolkit benchmark CONFIG`,
    or `toolkit benchmark compare RUN_A RUN_B`."""
    quiet_libraries()
    with user_errors():
        from toolkit.benchmark import report

        if config == "compare":
            if not runs or len(runs) != 2:
                raise ToolkitError("usage: toolkit benchmark compare RUN_A RUN_B")
            a, b = (report.load_results(Path(r)) for r in runs)
            table, notes = report.compare(a, b)
            if as_json:
                print_json({"a": a["run_id"], "b": b["run_id"], "notes": notes,
                            "rows": [[c._cells[i] for c in table.columns] for i in range(table.row_count)]})
                return
            stderr.print(table)
            for note in notes:
                stderr.print(note)
            return
        if runs:
            raise ToolkitError(f"unexpected arguments after the config: {' '.join(runs)}")
        from toolkit.benchmark.config import load_benchmark
        from toolkit.benchmark.runner import plan, run_benchmark, run_id, select_systems

        config_path = Path(config)
        bench = load_benchmark(config_path)
        chosen = select_systems(bench, [n.strip() for n in systems.split(",") if n.strip()] if systems else None)
        from toolkit.config import toolkit_cache

        # Cached outputs and built random models are shared by runs: the user cache
        # ($TOOLKIT_CACHE, else ~/.cache/toolkit), never the current folder.
        cache = toolkit_cache() / "benchmarks"
        if dry_run:
            resolved = plan(chosen, cache / "models")
            rows = [{"system": r.system.name, "task": r.system.task, "models": r.status, "error": r.error} for r in resolved]
            if as_json:
                print_json({"config": str(config_path), "datasets": list(bench.datasets), "systems": rows})
                return
            table = Table(title=f"{bench.name}: plan ({len(chosen)} systems × {len(bench.datasets)} datasets)", title_justify="left")
            for column in ("system", "task", "models", "ready"):
                table.add_column(column)
            for r in resolved:
                table.add_row(r.system.name, r.system.task,
                              ", ".join(f"{role}: {r.references.get(role, ref)} ({status})"
                                        for (role, ref), status in zip(_roles_of(r.system), r.status.values())),
                              "yes" if r.error is None else f"no: {r.error}")
            stderr.print(table)
            return
        target = out or Path("outputs") / "benchmarks" / run_id(bench)
        results = run_benchmark(bench, config_path, target, chosen, limit, not no_cache, cache / "outputs", cache / "models",
                                show_progress=not quiet and not as_json, overwrite=overwrite)
        if as_json:
            print_json({"run_dir": str(target), "status": results["status"], "leaderboard": report.leaderboard_rows(results),
                        "failed": results["failed"]})
        elif not quiet:
            for table in report.tables(results):
                stderr.print(table)
            stderr.print(f"Wrote {target}/ (results.json, results.csv, leaderboard.md, quality-vs-speed.png)")
        if results["failed"] and not allow_failures:
            names = ", ".join(f"{f['system']} on {f['dataset']}" for f in results["failed"])
            print(f"toolkit: benchmark: {len(results['failed'])} system run(s) failed ({names}); the reports mark them; "
                  f"--allow-failures exits 0", file=sys.stderr)
            raise typer.Exit(EXIT_BENCHMARK_FAILED)


def _roles_of(system: Any) -> list[tuple[str, str]]:
    from toolkit.benchmark.runner import model_roles

    return list(model_roles(system).items())


