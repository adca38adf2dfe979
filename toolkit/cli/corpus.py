"""Record corpora (JSONL inputs) in `translate`, `summarize` and `pipeline`: streamed in shards,
resumable, optionally on Ray. Text files keep one output file per document (cli/generate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.cli.output import EXIT_BROKEN_PIPE, EXIT_PARTIAL, print_json, set_interrupt_note, stderr
from toolkit.errors import InputError, ToolkitError
from toolkit.runtime import Terminated

ShardSizeOption = Annotated[int, typer.Option("--shard-size", min=1, max=10_000_000, help="JSONL inputs: records per output shard (part-00000.jsonl, …); part of what --resume checks.")]
ResumeOption = Annotated[bool, typer.Option("--resume/--no-resume", help="JSONL inputs: continue an interrupted run in --out (same command and inputs); committed shards are kept.")]
# Help is Rich markup: a backslash keeps `[ray]` from being read as a style tag (and dropped).
EngineOption = Annotated[str, typer.Option("--engine", help="JSONL inputs: local (this process) or ray (Ray Data actors; pip install 'toolkit\\[ray]').")]
RayAddressOption = Annotated[str | None, typer.Option("--ray-address", help="--engine ray: the cluster to join (default: RAY_ADDRESS, else a local Ray with this machine's CPUs).")]
ActorsOption = Annotated[int | None, typer.Option("--actors", min=1, max=100_000, help="--engine ray: model replicas, each with --threads threads (default: as many as fit on the cluster's CPUs; threads default to 4, or the largest node's CPUs if fewer).")]


def corpus_paths(inputs: list[str]) -> list[Path] | None:
    """The JSONL files of the inputs when they are a record corpus, None when they are text
    files; a mix is refused (they make different outputs)."""
    from toolkit.io.documents import JSONL_SUFFIXES, files_under

    files: list[Path] = []
    text: list[str] = []
    for item in inputs:
        path = Path(item)
        if item == "-":
            text.append(item)
        elif path.is_dir():
            found = files_under(path)
            files += [f for f in found if f.suffix.lower() in JSONL_SUFFIXES]
            text += [str(f) for f in found if f.suffix.lower() not in JSONL_SUFFIXES]
        elif path.suffix.lower() in JSONL_SUFFIXES and path.exists():
            if not path.is_file():
                raise InputError(f"{item}: not a file")
            files.append(path)
        else:
            text.append(item)
    if files and text:
        raise InputError(f"JSONL corpora and text files make different outputs (shards; one file per document): run "
                         f"{files[0]} and {text[0]} separately")
    return files or None


def corpus_options(shard_size: int, engine: str, ray_address: str | None, actors: int | None,
                   encoding: str = "utf-8") -> Any:
    from toolkit.options import CorpusOptions, build

    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        raise ToolkitError(f"--encoding {encoding}: JSONL corpora are read as UTF-8 (RFC 8259); convert them "
                           "(iconv -f ... -t UTF-8)")
    if engine not in ("local", "ray"):
        raise ToolkitError(f"--engine {engine}: expected local or ray")
    if engine != "ray" and (ray_address or actors):
        raise ToolkitError("--ray-address and --actors need --engine ray")
    return build(CorpusOptions, {"shard_size": shard_size, "engine": engine, "ray_address": ray_address,
                                 "actors": actors})


def check_plain_flags(resume: bool, engine: str, shard_size: int, default_shard_size: int) -> None:
    """Corpus options given for text inputs are a mistake worth one line, not silence."""
    if resume:
        raise ToolkitError("--resume applies to JSONL corpora (text inputs are written as one run at the end)")
    if engine != "local":
        raise ToolkitError("--engine ray applies to JSONL corpora")
    if shard_size != default_shard_size:
        raise ToolkitError("--shard-size applies to JSONL corpora")


def run_corpus_command(command: str, job: Any, paths: list[Path], out: str | None, fmt: str, corpus: Any,
                       overwrite: bool, resume: bool, as_json: bool, quiet: bool, verb: str) -> None:
    """Run ``job`` over the corpus into a sharded run folder (or stdout), then report."""
    from toolkit.execution.corpus import (
        ReaderGone,
        StdoutSink,
        corpus_fingerprint,
        corpus_inputs,
        corpus_manifest,
        run_corpus,
    )
    from toolkit.io.runs import default_run_dir
    from toolkit.io.sharded_run import AlreadyFinished, ShardedRun

    if fmt not in ("auto", "jsonl"):
        raise ToolkitError(f"--format {fmt}: JSONL inputs give JSONL shards (one output record per input record)")
    paths = corpus_inputs(paths)
    fingerprint = corpus_fingerprint(job, paths, corpus)
    run: ShardedRun | None = None
    if out == "-":
        if as_json or resume:
            raise ToolkitError(f"--out - cannot be used with {'--json' if as_json else '--resume'}")
        sink: Any = StdoutSink()
    else:
        target = Path(out) if out is not None else default_run_dir(command)
        if resume and out is None:
            raise ToolkitError("--resume needs the --out folder of the run to continue")
        try:
            run = sink = ShardedRun(target, fingerprint, overwrite=overwrite, resume=resume, inputs=paths)
        except AlreadyFinished as exc:
            stderr.print(str(exc))
            if as_json:
                _report_finished(target)
            return
    try:
        if run is not None and resume and not quiet:
            stderr.print(f"Resuming {run.target}: {len(run.done)} shard(s) already committed" if run.resumed else
                         f"Nothing to resume in {run.target}: starting the run")
        result = run_corpus(job, paths, sink, corpus, show_progress=not quiet, description=verb)
    except (KeyboardInterrupt, Terminated):
        if run is not None:
            run.close()
            if run.done:
                set_interrupt_note(f"{len(run.done)} shard(s) kept in {run.target}: continue with the same command "
                                   "and --resume")
        raise
    except ReaderGone:
        # The reader of stdout left (`| head`): stop quietly, as a shell pipeline expects.
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except BaseException:
        if run is not None:
            run.close()
        raise
    manifest = corpus_manifest(job, paths, sink, corpus, result)
    if run is not None:
        try:
            target = run.finish(manifest)
        finally:
            run.close()
        _report(target, result, as_json, quiet)
    if result.failed:
        where = f"listed in {run.target}/failures.jsonl" if run is not None else "on stderr"
        stderr.print(f"{result.failed} record(s) failed ({where}); exit code {EXIT_PARTIAL}")
        raise typer.Exit(EXIT_PARTIAL)


def _report_finished(target: Path) -> None:
    """``--json --resume`` of a finished run: the summary it printed then, from its manifest."""
    import json

    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    print_json({"run_dir": str(target.resolve()), "manifest": str(target.resolve() / "manifest.json"),
                "layout": "shards", "totals": manifest.get("totals"),
                "failures_file": str(target.resolve() / "failures.jsonl"), "already_finished": True})


def _report(target: Path, result: Any, as_json: bool, quiet: bool) -> None:
    if as_json:
        print_json({"run_dir": str(target), "manifest": str(target / "manifest.json"), "layout": "shards",
                    "totals": result.totals(), "failures_file": str(target / "failures.jsonl"),
                    **({"quality": result.quality} if result.quality is not None else {})})
    elif not quiet:
        stderr.print(f"{result.outputs} of {result.records} record(s) in {result.shards} shard(s), "
                     f"{result.failed} failed, {result.warnings} warning(s) (details/); wrote {target}/")
        if result.quality is not None:
            from toolkit.cli.common import quality_line

            stderr.print(quality_line(result.quality, target), markup=False, highlight=False)
